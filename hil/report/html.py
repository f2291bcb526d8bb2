"""One self-contained HTML file per run: summary, sequence diagrams, plots, tables, logs.

Everything is inline (CSS, SVG, a few lines of JavaScript), so the file opens
from disk with no network. Every string from the record is HTML-escaped, and a
Content-Security-Policy lets only the report's own script (by its hash) run:
a hostile scenario name or decoded message cannot execute or load anything.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from hil.report.common import (
    BAD,
    failing_steps,
    format_duration,
    location,
    parse_time,
    real_seconds,
    step_counts,
    virtual_seconds,
)
from hil.report.plots import prepayment_svg, response_times_svg, series_svg
from hil.scenario.record import (
    FaultRecord,
    MessageRecord,
    ResponseTimeRecord,
    RunRecord,
    ScenarioRecord,
    Verdict,
)

#: Lanes drawn first, left to right, when a scenario has them; devices follow.
LANE_ORDER = ("User", "DCC", "Hub")

_SCRIPT = (files("hil.report") / "report.js").read_text(encoding="utf-8")
_CSS = (files("hil.report") / "report.css").read_text(encoding="utf-8")


_KIND_COLOURS = {
    "service_request": "#0969da",
    "service_response": "#0969da",
    "command": "#8250df",
    "response": "#8250df",
    "alert": "#bc4c00",
    "dcc_alert": "#bc4c00",
}
_DEFAULT_KIND_COLOUR = "#57606a"
_FAULT_COLOUR = "#cf222e"


def e(value: object) -> str:
    """Escaped text for element content and quoted attributes alike."""
    return html.escape(str(value), quote=True)


def write_html(record: RunRecord, path: str | Path) -> None:
    Path(path).write_text(render_html(record), encoding="utf-8")


def render_html(record: RunRecord) -> str:
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    status = "PASSED" if record.passed else "FAILED"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{e(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(status)} · {e(record.tool)} · {e(record.started_at)}</title>",
        f"<style>{_CSS}</style>",
        # Without JavaScript every decoded message is shown under its diagram.
        "<noscript><style>.msgdetail[hidden] { display: block; } .hint { display: none; }"
        "</style></noscript></head><body>",
        _header(record),
        "<main>",
        _summary(record),
        *(_scenario(n, s) for n, s in enumerate(record.scenarios)),
        "</main>",
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _badge(verdict: Verdict) -> str:
    return f'<span class="badge v-{e(verdict.value)}">{e(verdict.value.upper())}</span>'


def _header(record: RunRecord) -> str:
    verdict = Verdict.PASS if record.passed else Verdict.FAIL
    counts = ", ".join(
        f"{n} {v.value}" for v in Verdict if (n := sum(s.verdict == v for s in record.scenarios))
    )
    return (
        '<header class="run">'
        f"<h1>Test report {_badge(verdict)}</h1>"
        f'<div class="banner">{len(record.scenarios)} scenarios: {e(counts or "none run")}</div>'
        f'<div class="muted">{e(record.tool)} · started {e(record.started_at)} · '
        f"record version {e(record.version)}</div></header>"
    )


def _summary(record: RunRecord) -> str:
    rows = []
    for n, s in enumerate(record.scenarios):
        passed, bad, skipped = step_counts(s)
        rows.append(
            f'<tr class="{"bad" if not s.passed else ""}"><td>{_badge(s.verdict)}</td>'
            f'<td><a href="#s{n}">{e(s.name)}</a></td>'
            f'<td class="num">{passed}</td><td class="num">{bad}</td><td class="num">{skipped}</td>'
            f'<td class="num">{e(format_duration(virtual_seconds(s)))}</td>'
            f'<td class="num">{e(format_duration(real_seconds(s)))}</td>'
            f'<td class="num">{len(s.messages)}</td><td class="num">{len(s.faults)}</td>'
            f"<td>{e(s.lab)}</td></tr>"
        )
    table = (
        "<table><thead><tr><th>verdict</th><th>scenario</th><th>passed</th><th>failed</th>"
        "<th>skipped</th><th>virtual time</th><th>real time</th><th>messages</th><th>faults</th>"
        f"<th>lab</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    failures = []
    for n, s in enumerate(record.scenarios):
        for step in failing_steps(s):
            failures.append(
                f'<div><a href="#s{n}">{e(s.name)}</a> &gt; <b>{e(step.name)}</b>: '
                f'{e(step.message)} <span class="mono muted">{e(location(s, step))}</span></div>'
            )
    box = f'<div class="failures">{"".join(failures)}</div>' if failures else ""
    return f'<section id="summary"><h2>Summary</h2>{table}{box}</section>'


def _scenario(n: int, s: ScenarioRecord) -> str:
    facts = [
        ("file", s.file or "(Python scenario)"),
        ("lab", s.lab),
        ("seed", "none" if s.seed is None else s.seed),
        (
            "virtual",
            f"{s.started.virtual} → {s.ended.virtual} ({format_duration(virtual_seconds(s))})",
        ),
        ("real", format_duration(real_seconds(s))),
    ]
    facts += [(f"parameter {k}", json.dumps(v, default=str)) for k, v in s.parameters.items()]
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    parts = [
        f'<section class="scenario" id="s{n}">',
        f"<h2>{_badge(s.verdict)} {e(s.name)}</h2>",
        f'<dl class="facts">{dl}</dl>',
        _steps(s),
    ]
    if s.messages or s.faults:
        parts.append(_sequence_section(n, s))
    if s.response_times:
        parts.append(_response_times(n, s.response_times))
    if s.series:
        plot = series_svg(s, f"s{n}-series")
        if plot:
            parts.append(f'<h3>Values over virtual time</h3><div class="plot series">{plot}</div>')
        money = prepayment_svg(s, f"s{n}-prepay")
        if money:
            parts.append(f'<h3>Prepayment</h3><div class="plot prepayment">{money}</div>')
    if s.measurements:
        parts.append(_measurements(s))
    if s.faults:
        parts.append(_faults(s.faults))
    if s.logs:
        parts.append(_logs(s))
    parts.append("</section>")
    return "\n".join(parts)


def _steps(s: ScenarioRecord) -> str:
    rows = []
    for n, step in enumerate(s.steps, 1):
        rows.append(
            f'<tr class="{"bad" if step.verdict in BAD else ""}"><td class="num">{n}</td>'
            f"<td>{_badge(step.verdict)}</td><td>{e(step.name)}</td><td>{e(step.kind)}</td>"
            f'<td class="msg">{e(step.message)}</td>'
            f'<td class="mono">{e(location(s, step))}</td>'
            f'<td class="mono">{e(_short_time(step.started.virtual))}</td>'
            f'<td class="num">{e(format_duration(step.ended.real - step.started.real))}</td></tr>'
        )
    return (
        f"<h3>Steps ({len(s.steps)})</h3><table><thead><tr><th>#</th><th>verdict</th><th>step</th>"
        "<th>kind</th><th>message</th><th>where</th><th>virtual start</th><th>real</th></tr>"
        "</thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _short_time(text: str) -> str:
    moment = parse_time(text)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else text


# -- the sequence diagram -------------------------------------------------------------------


@dataclass(slots=True)
class _Event:
    when: _dt.datetime | None
    real: float
    order: int  # among events at the same instant: fault ends, steps, faults starting, messages
    what: str  # "step", "fault_start", "fault_end", "message"
    index: int  # into steps, faults or messages


def _lanes(messages: Sequence[MessageRecord]) -> list[str]:
    seen: list[str] = []
    for m in messages:
        for lane in (m.source, m.target):
            if lane not in seen:
                seen.append(lane)
    first = [lane for lane in LANE_ORDER if lane in seen]
    return first + [lane for lane in seen if lane not in first]


def _events(s: ScenarioRecord) -> list[_Event]:
    events = [
        _Event(parse_time(st.started.virtual), st.started.real, 1, "step", i)
        for i, st in enumerate(s.steps)
    ]
    for i, fault in enumerate(s.faults):
        events.append(
            _Event(parse_time(fault.started.virtual), fault.started.real, 2, "fault_start", i)
        )
        if fault.ended is not None:
            events.append(
                _Event(parse_time(fault.ended.virtual), fault.ended.real, 0, "fault_end", i)
            )
    events += [
        _Event(parse_time(m.at.virtual), m.at.real, 3, "message", i)
        for i, m in enumerate(s.messages)
    ]
    floor = _dt.datetime.min.replace(tzinfo=_dt.UTC)
    events.sort(key=lambda ev: (ev.when or floor, ev.real, ev.order))
    return events


def _sequence_section(n: int, s: ScenarioRecord) -> str:
    svg = _sequence_svg(n, s)
    details = []
    for i, m in enumerate(s.messages):
        decoded = m.decoded if m.decoded is not None else "(no decoded form recorded)"
        ok = "" if m.ok is None else (" · ok" if m.ok else " · NOT OK")
        code = "" if m.message_code is None else f" · message code 0x{m.message_code:04X}"
        details.append(
            f'<div class="msgdetail" id="s{n}m{i}" hidden>'
            f"<b>#{i + 1} {e(m.source)} → {e(m.target)}</b>"
            f'<div class="muted">{e(m.kind)} · {e(m.at.virtual)} · +{m.at.real:.3f} s real'
            f"{e(code)}{e(ok)}</div>"
            f"<div>{e(m.label)}</div>"
            + (f"<div class=muted>step: {e(m.step)}</div>" if m.step else "")
            + (f"<div class=muted>variant: {e(m.variant)}</div>" if m.variant else "")
            + f"<h4>decoded</h4><pre>{e(decoded)}</pre>"
            + (f"<h4>bytes</h4><pre>{e(_spaced_hex(m.hex))}</pre>" if m.hex else "")
            + "</div>"
        )
    panel = (
        f'<aside class="panel" id="s{n}-panel">'
        '<div class="muted hint">Click an arrow (or a row of the '
        f"message table) to show the message, decoded.</div>{''.join(details)}</aside>"
    )
    return (
        f"<h3>Message sequence ({_count(len(s.messages), 'message')},"
        f" {_count(len(s.faults), 'fault')})</h3>"
        f'<div class="seqwrap"><div class="seq timeline">{svg}</div>{panel}</div>'
        + _message_table(n, s.messages)
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _spaced_hex(text: str) -> str:
    clean = "".join(text.split())
    return " ".join(clean[i : i + 2] for i in range(0, len(clean), 2))


def _message_table(n: int, messages: Sequence[MessageRecord]) -> str:
    rows = []
    for i, m in enumerate(messages):
        state = "" if m.ok is None else ("ok" if m.ok else "NOT OK")
        rows.append(
            f'<tr data-msg="s{n}m{i}" class="{"bad" if m.ok is False else ""}">'
            f'<td class="num">{i + 1}</td>'
            f'<td class="mono">{e(_short_time(m.at.virtual))}</td><td>{e(m.source)}</td>'
            f"<td>{e(m.target)}</td><td>{e(m.kind)}</td><td>{e(m.label)}</td><td>{e(state)}"
            "</td></tr>"
        )
    return (
        f"<details><summary>Message table ({len(messages)})</summary><div class=scroll><table>"
        "<thead><tr><th>#</th><th>virtual time</th><th>from</th><th>to</th><th>kind</th>"
        "<th>label</th>"
        f"<th>outcome</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div></details>"
    )


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "…"


def _sequence_svg(n: int, s: ScenarioRecord) -> str:
    lanes = _lanes(s.messages)
    lane_gap, left, top, row_h, band_w = 150, 104, 46, 26, 7
    fault_cols = len(s.faults) * band_w
    x0 = left + fault_cols + lane_gap // 2
    width = x0 + max(len(lanes) - 1, 0) * lane_gap + lane_gap // 2 + 10
    lane_x = {lane: x0 + i * lane_gap for i, lane in enumerate(lanes)}

    body: list[str] = []
    y = top + 10
    fault_rows: dict[int, list[float]] = {}
    last_day = ""

    def clock(virtual: str, baseline: int) -> str:
        """The row's virtual time in the left column; the date too when it changes."""
        nonlocal last_day
        moment = parse_time(virtual)
        if moment is None:
            return ""
        day = moment.strftime("%m-%d")
        shown = moment.strftime("%H:%M:%S" if day == last_day else "%m-%d %H:%M:%S")
        last_day = day
        return f'<text x="6" y="{baseline}" class="time">{e(shown)}</text>'

    for ev in _events(s):
        if ev.what == "step":
            step = s.steps[ev.index]
            colour = "#cf222e" if step.verdict in BAD else "#57606a"
            y += 6
            body.append(clock(step.started.virtual, y + 14))
            body.append(
                f'<line x1="{left}" x2="{width - 4}" y1="{y}" y2="{y}" stroke="#d0d7de"/>'
                f'<text x="{left + fault_cols + 6}" y="{y + 14}" class="step" fill="{colour}">'
                f"▸ {e(_clip(step.name, 60))} · {e(step.kind)} · {e(step.verdict.value.upper())}"
                f"<title>{e(step.name)}: {e(step.message)}</title></text>"
            )
            y += 20
        elif ev.what in ("fault_start", "fault_end"):
            fault = s.faults[ev.index]
            started = ev.what == "fault_start"
            fault_rows.setdefault(ev.index, []).append(y)
            moment = fault.started if started else fault.ended
            body.append(clock(moment.virtual if moment else "", y + 14))
            text = f"⚡ fault {'on' if started else 'cleared'}: {fault.name} → {fault.target}"
            body.append(
                f'<text x="{left + fault_cols + 6}" y="{y + 14}" class="fault"'
                f' fill="{_FAULT_COLOUR}">'
                f"{e(_clip(text, 90))}<title>{e(text)}</title></text>"
            )
            y += 20
        else:
            m = s.messages[ev.index]
            body.append(_arrow(n, ev.index, m, lane_x, y, width, left))
            body.append(clock(m.at.virtual, y + 18))
            y += row_h + 8
    height = y + 14
    # Faults: a band across the diagram and a bar in its own column, from on to cleared.
    bands = []
    for i, fault in enumerate(s.faults):
        rows = fault_rows.get(i, [])
        if not rows:
            continue
        y_on = rows[0]
        y_off = rows[1] + 20 if len(rows) > 1 else height - 6
        bx = left + i * band_w
        title = f"{fault.name} → {fault.target}"
        bands.append(
            f'<g class="faultband"><rect x="{left}" y="{y_on}" width="{width - left - 4}" '
            f'height="{y_off - y_on}" fill="{_FAULT_COLOUR}" opacity="0.06"/>'
            f'<rect x="{bx}" y="{y_on}" width="{band_w - 2}" height="{y_off - y_on}" rx="2" '
            f'fill="{_FAULT_COLOUR}" opacity="0.55"><title>{e(title)}</title></rect></g>'
        )
    heads = []
    for lane, x in lane_x.items():
        label = _clip(lane, 17)
        heads.append(
            f'<line x1="{x}" x2="{x}" y1="{top}" y2="{height - 4}" stroke="#8c959f"'
            ' stroke-dasharray="4 4"/>'
            f'<rect x="{x - 66}" y="8" width="132" height="28" rx="5" fill="#f6f8fa"'
            ' stroke="#8c959f"/>'
            f'<text x="{x}" y="27" text-anchor="middle" class="lane">{e(label)}<title>{e(lane)}'
            "</title></text>"
        )
    markers = "".join(
        f'<marker id="s{n}-arrow-{k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
        for k, c in _marker_colours().items()
    )
    style = (
        "<style>text{font-family:system-ui,'DejaVu Sans',sans-serif;font-size:12px;fill:#1f2328}"
        "text.lane{font-weight:600;font-size:13px}text.time{font-size:11px;fill:#57606a;"
        "font-family:ui-monospace,'DejaVu Sans"
        " Mono',monospace}text.day{font-size:10px;fill:#8c959f}"
        "text.step{font-size:12px;font-weight:600}text.fault{font-size:12px;font-weight:600;fill:#cf222e}"
        "text.label{font-size:11.5px}</style>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="message sequence diagram">'
        f"{style}<defs>{markers}</defs>{''.join(bands)}{''.join(heads)}{''.join(body)}</svg>"
    )


def _marker_colours() -> dict[str, str]:
    colours = {"fail": _FAULT_COLOUR, "other": _DEFAULT_KIND_COLOUR}
    colours.update({k: c for k, c in _KIND_COLOURS.items()})
    return colours


def _arrow(
    n: int, i: int, m: MessageRecord, lane_x: dict[str, int], y: int, width: int, left: int
) -> str:
    colour_key = "fail" if m.ok is False else (m.kind if m.kind in _KIND_COLOURS else "other")
    colour = _marker_colours()[colour_key]
    dash = (
        ' stroke-dasharray="6 3"'
        if m.kind in ("response", "service_response") or m.ok is False
        else ""
    )
    x1, x2 = lane_x[m.source], lane_x[m.target]
    line_y = y + 14
    title = f"#{i + 1} {m.source} → {m.target} · {m.kind} · {m.label}"
    if x1 == x2:  # to itself: a small loop on the lifeline
        shape = (
            f'<path d="M{x1},{line_y - 6} h36 v12 h-34" fill="none" stroke="{colour}"'
            ' stroke-width="1.6"'
            f'{dash} marker-end="url(#s{n}-arrow-{colour_key})"/>'
        )
        text_x, anchor, room = x1 + 42, "start", 26
    else:
        shape = (
            f'<line x1="{x1}" y1="{line_y}" x2="{x2}" y2="{line_y}" stroke="{colour}"'
            ' stroke-width="1.6"'
            f'{dash} marker-end="url(#s{n}-arrow-{colour_key})"/>'
        )
        text_x, anchor, room = (x1 + x2) // 2, "middle", max(8, abs(x2 - x1) // 7)
    badge = " ✗" if m.ok is False else ""
    return (
        f'<g class="msg" data-msg="s{n}m{i}" tabindex="0" role="button">'
        f'<rect class="hit" x="{left}" y="{y - 2}" width="{width - left - 4}" height="{26 + 4}"'
        ' fill="transparent"/>'
        f"<title>{e(title)}</title>{shape}"
        f'<text x="{text_x}" y="{line_y - 4}" text-anchor="{anchor}" class="label" fill="{colour}">'
        f"{e(_clip(m.label, room))}{badge}</text></g>"
    )


# -- tables and plots -----------------------------------------------------------------------


def _response_times(n: int, records: Sequence[ResponseTimeRecord]) -> str:
    rows = []
    for variant, smets1 in sorted({(r.variant, r.smets1) for r in records}):
        mine = [r for r in records if r.variant == variant and r.smets1 == smets1]
        values = sorted(r.measured_s for r in mine)
        targets = sorted({r.target_s for r in mine if r.target_s is not None})
        late = sum(not r.ok for r in mine)
        rows.append(
            f'<tr class="{"bad" if late else ""}"><td>{e(variant)}</td>'
            f"<td>{'SMETS1' if smets1 else 'SMETS2+'}</td>"
            f'<td class="num">{len(values)}</td>'
            f'<td class="num">{_seconds(values[0])}</td>'
            f'<td class="num">{_seconds(_median(values))}</td>'
            f'<td class="num">{_seconds(values[-1])}</td>'
            f'<td class="num">{e(", ".join(f"{t:g} s" for t in targets) or "none")}</td>'
            f'<td class="num msg">{late}</td></tr>'
        )
    table = (
        "<table><thead><tr><th>variant</th><th>regime</th><th>n</th><th>min</th><th>median</th>"
        "<th>max</th>"
        f"<th>target</th><th>over target</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    plot = response_times_svg(records, f"s{n}-rt")
    return f'<h3>Response times</h3><div class="plot responsetimes">{plot}</div>{table}'


def _median(values: Sequence[float]) -> float:
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _seconds(value: float) -> str:
    return e(f"{value:.3g} s" if value < 100 else format_duration(value))


def _measurements(s: ScenarioRecord) -> str:
    rows = [
        f'<tr class="{"bad" if m.verdict in BAD else ""}"><td>{e(m.name)}</td>'
        f'<td class="num">{e(m.value)}</td><td>{e(m.unit or "")}</td>'
        f'<td class="mono">{e(m.validator or "")}</td>'
        f"<td>{_badge(m.verdict)}</td><td class=mono>{e(_short_time(m.at.virtual))}</td>"
        f"<td>{e(m.step or '')}</td></tr>"
        for m in s.measurements
    ]
    return (
        f"<h3>Measurements ({len(rows)})</h3><table><thead><tr><th>name</th><th>value</th>"
        "<th>unit</th>"
        "<th>validator</th><th>verdict</th><th>virtual time</th><th>step</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _faults(faults: Iterable[FaultRecord]) -> str:
    rows = [
        f"<tr><td>{e(f.name)}</td><td>{e(f.target)}</td>"
        f"<td class=mono>{e(_short_time(f.started.virtual))}</td>"
        f"<td class=mono>{e(_short_time(f.ended.virtual) if f.ended else 'still active')}</td>"
        f"<td class=mono>{e(_detail(f.detail))}</td></tr>"
        for f in faults
    ]
    return (
        "<h3>Faults</h3><table><thead><tr><th>fault</th><th>target</th><th>on</th><th>cleared</th>"
        f"<th>counters</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _detail(detail: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in detail.items())


def _logs(s: ScenarioRecord) -> str:
    rows = [
        f'<tr class="lvl-{e(log.level.upper())}">'
        f"<td class=mono>{e(_short_time(log.at.virtual))}</td>"
        f'<td class="num mono">{log.at.real:.3f}</td><td>{e(log.level)}</td><td>{e(log.source)}'
        "</td>"
        f"<td class=mono>{e(log.text)}</td></tr>"
        for log in s.logs
    ]
    return (
        f"<h3>Log ({len(rows)} lines)</h3><div class=scroll><table><thead><tr><th>virtual time</th>"
        "<th>real s</th><th>level</th><th>source</th><th>text</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
