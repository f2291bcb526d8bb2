"""The fleet's reports: JSON (the data), HTML (one self-contained page), the live view.

The HTML has no script and no external resource; every string is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from hil.fleet.coordinator import Coordinator, percentiles


def write_json(report: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(report, indent=2) + "\n")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _rows(rows: Sequence[tuple[object, ...]]) -> str:
    return "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)


def render_html(report: dict[str, Any]) -> str:
    lat = report["latency_ms"]
    req = report["requests"]
    summary = [
        ("verdict", report["verdict"]),
        ("premises", report["config"]["premises"]),
        ("workers", report["config"]["workers"]),
        ("seed", report["config"]["seed"]),
        ("target rate (req/s)", report["config"]["mix"]["rate"]),
        ("throughput (ok/s)", report["throughput_per_s"]),
        ("requests sent / ok / failed", f"{req['sent']} / {req['ok']} / {req['failed']}"),
        (
            "latency p50 / p95 / p99 / max (ms)",
            f"{lat['p50']} / {lat['p95']} / {lat['p99']} / {lat['max']}",
        ),
        ("CPU per request (ms)", report["cpu_ms_per_request"]),
        ("peak RSS per premises (KiB)", report["peak_rss_kb_per_premises"]),
        ("setup (s)", report["setup_s"]),
        ("traffic (s)", report["traffic_s"]),
    ]
    outages = report.get("broker_outages")
    if outages and outages.get("any"):
        summary.append(("broker outages", outage_line(outages)))
    workers = [
        (k, w["phase"], w["pid"], w["premises"], w["sent"], w["ok"], w["failed"], w["lost"] or "")
        for k, w in report["workers"].items()
    ]
    failures = list(report["failures"].items()) or [("none", 0)]
    kinds = list(report["kinds"].items())
    lost = ", ".join(report["lost_premises"]) or "none"
    verdict = _e(report["verdict"])
    premises = [(n, p["sent"], p["ok"], p["failed"]) for n, p in report["premises"].items()]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>fleet {_e(report["run"])} {_e(report["started"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}.failed{{color:#b00}}
.passed{{color:#070}}</style></head><body>
<h1>Fleet run {_e(report["run"])} <span class="{verdict}">{verdict}</span></h1>
<p>started {_e(report["started"])}</p>
<h2>Summary</h2><table>{_rows(summary)}</table>
<h2>Workers</h2><table><tr><th>shard</th><th>phase</th><th>pid</th><th>premises</th>
<th>sent</th><th>ok</th><th>failed</th><th>lost</th></tr>{_rows(workers)}</table>
<h2>Lost premises</h2><p>{_e(lost)}</p>
<h2>Failures</h2><table>{_rows(failures)}</table>
<h2>Requests by kind</h2><table>{_rows(kinds)}</table>
<h2>Premises</h2><table><tr><th>premises</th><th>sent</th><th>ok</th><th>failed</th></tr>
{_rows(premises)}</table>
</body></html>
"""


def outage_line(outages: dict[str, Any]) -> str:
    """One sentence on what broker connection losses there were (requests lost with them
    fail as timeouts: this is why a run with no lost worker can still fail)."""
    coordinator = int((outages.get("coordinator") or {}).get("reconnects", 0))
    return (
        f"reconnects: coordinator {coordinator}, worker control "
        f"{outages.get('worker_control_reconnects', 0)}, shared (mux) "
        f"{outages.get('mux_reconnects', 0)}, device and hub links "
        f"{outages.get('link_reconnects', 0)}; requests in flight meanwhile fail as timeouts"
    )


def write_html(report: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(render_html(report))


def live_table(c: Coordinator) -> Table:
    """The live view: one row per worker and a total with rate and latency percentiles."""
    lat = percentiles(c.latencies_ms[-20000:])
    reconnects = 0 if c.control is None else c.control.reconnects
    table = Table(
        title=(
            f"fleet {c.config.run}: {c.phase}  {c.rate():.0f} req/s  "
            f"p50 {lat['p50']} ms  p95 {lat['p95']} ms  p99 {lat['p99']} ms"
            + (f"  broker reconnects {reconnects}" if reconnects else "")
        )
    )
    for column in ("worker", "phase", "built", "sent", "ok", "failed", "lost"):
        table.add_column(column)
    for _, s in sorted(c.shards.items()):
        # A lost worker's devices are offline (set so by the coordinator); a will in its
        # grace period is shown as such.
        lost = s.lost + (f" ({s.offline} devices offline)" if s.offline else "")
        if not lost and s.will_at is not None:
            lost = "will received, waiting"
        table.add_row(
            str(s.shard), s.phase, str(s.built), str(s.sent), str(s.ok), str(s.failed), lost
        )
    total = [s for s in c.shards.values()]
    table.add_row(
        "all",
        "",
        str(sum(s.built for s in total)),
        str(sum(s.sent for s in total)),
        str(sum(s.ok for s in total)),
        str(sum(s.failed for s in total)),
        str(sum(1 for s in total if s.lost) or ""),
    )
    return table
