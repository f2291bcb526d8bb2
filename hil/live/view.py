"""The live view of a running lab: one rich renderable per snapshot, or plain lines.

The layout is made to be read at 100 columns and about 40 rows: the devices
with their link counters, one line per premises' HAN, then response times and
drops side by side, then the recent messages, as many as the terminal leaves
room for. Plain mode (stdout not a terminal) prints one line per event, so a
CI log reads top to bottom.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from hil.live.monitor import Snapshot

ONLINE_STYLE = {"online": "green", "sleepy": "cyan", "offline": "bold red", "not emulated": "dim"}
KIND_STYLE = {
    "command": "blue",
    "queued": "cyan",
    "response": "green",
    "alert": "yellow",
    "request": "bold",
    "scenario": "bold magenta",
    "control": "red",
}
#: Recent messages shown even when the terminal is too short for the whole view.
MIN_MESSAGES = 3


def _table(title: str) -> Table:
    """A titled table with a rule under its head and two spaces between columns."""
    return Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        title=title,
        title_justify="left",
        title_style="bold",
        padding=(0, 1, 0, 0),
    )


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def header(snap: Snapshot, *, compact: bool = False) -> Text:
    text = Text()
    text.append(f"lab {snap.lab}", style="bold")
    text.append(f"  {snap.clock} clock {snap.now:%Y-%m-%d %H:%M:%S}  up {_duration(snap.uptime)}")
    text.append(f"  requests {snap.requests}")
    if snap.endpoint and not compact:
        text.append(f"\ncontrol {snap.endpoint}  (Ctrl-C stops)", style="dim")
    return text


def devices_table(snap: Snapshot) -> Table:
    table = _table("devices")
    for name, kw in (
        ("device", {"overflow": "ellipsis", "max_width": 18}),
        ("type", {}),
        ("EUI-64", {"no_wrap": True}),
        ("online", {}),
        ("SMI status", {"overflow": "ellipsis", "min_width": 12}),
        ("firmware", {}),
        ("tx", {"justify": "right"}),
        ("rx", {"justify": "right"}),
        ("drop", {"justify": "right"}),
    ):
        table.add_column(name, **kw)
    for d in snap.devices:
        dropped = None if d.dropped is None else d.dropped + (d.corrupted or 0)
        table.add_row(
            d.name,
            d.kind,
            d.eui,
            Text("-" if d.online == "not emulated" else d.online, style=ONLINE_STYLE[d.online]),
            d.status,
            d.firmware,
            _count(d.sent),
            _count(d.received),
            _count(dropped),
        )
    return table


def links_table(snap: Snapshot) -> Table:
    table = _table("links")
    for name in ("premises", "link", "tx", "rx", "drop", "bad", "cmd", "rsp", "alert", "queued"):
        justify = "left" if name in ("premises", "link") else "right"
        table.add_column(name, justify=justify, overflow="ellipsis")  # type: ignore[arg-type]
    for r in snap.links:
        table.add_row(
            r.premises,
            r.url,
            *(
                str(v)
                for v in (
                    r.sent,
                    r.received,
                    r.dropped,
                    r.corrupted,
                    r.commands,
                    r.responses,
                    r.alerts,
                    r.queued,
                )
            ),
        )
    return table


def latency_table(snap: Snapshot) -> Table:
    table = _table("response times (ms)")
    for name in ("variant", "n", "p50", "p95", "max", "late"):
        table.add_column(name, justify="left" if name == "variant" else "right")
    for s in snap.latency:
        table.add_row(s.variant, str(s.count), _ms(s.p50), _ms(s.p95), _ms(s.max), str(s.breaches))
    if not snap.latency:
        table.add_row(Text("no requests yet", style="dim"), "", "", "", "", "")
    return table


def drops_table(snap: Snapshot) -> Table:
    table = _table("drops")
    table.add_column("what", overflow="ellipsis")
    table.add_column("n", justify="right")
    for what, n in sorted(snap.drops.items()):
        table.add_row(what, Text(str(n), style="bold red" if n else ""))
    if snap.control_errors:
        table.add_row("control: bad messages", str(snap.control_errors))
    if not snap.drops and not snap.control_errors:
        table.add_row(Text("none", style="green"), "0")
    return table


def messages_table(snap: Snapshot, room: int | None = None) -> Table:
    table = _table("recent messages and alerts")
    table.add_column("time", no_wrap=True, min_width=8)
    table.add_column("kind", no_wrap=True, min_width=8)
    table.add_column("summary", overflow="ellipsis", no_wrap=True)
    shown = snap.messages if room is None else snap.messages[-room:] if room > 0 else []
    for e in shown:
        table.add_row(f"{e.at:%H:%M:%S}", Text(e.kind, style=KIND_STYLE.get(e.kind, "")), e.summary)
    if not snap.messages:
        table.add_row("", "", Text("nothing yet", style="dim"))
    return table


def render(snap: Snapshot, height: int | None = None) -> RenderableType:
    """The whole view for one snapshot; with `height`, as many messages as leave it fitting.

    A terminal too short for the whole view and a few messages loses the links
    table and the control line first (the devices table has the link counters).
    """
    side = Table.grid(padding=(0, 4))
    side.add_column()
    side.add_column()
    side.add_row(latency_table(snap), drops_table(snap))
    if height is None:
        return Group(
            header(snap), devices_table(snap), links_table(snap), side, messages_table(snap)
        )
    if height - fixed_rows(snap) >= MIN_MESSAGES:
        room = height - fixed_rows(snap)
        parts: list[RenderableType] = [header(snap), devices_table(snap), links_table(snap)]
    else:
        room = max(MIN_MESSAGES, height - fixed_rows(snap, compact=True))
        parts = [header(snap, compact=True), devices_table(snap)]
    return Group(*parts, side, messages_table(snap, room))


def fixed_rows(snap: Snapshot, *, compact: bool = False) -> int:
    """Rows the view takes besides the messages: each table has a title, head and rule."""
    side = max(len(snap.latency) or 1, len(snap.drops) + bool(snap.control_errors) or 1)
    header_rows = 2 if snap.endpoint and not compact else 1
    links = 0 if compact else 3 + len(snap.links)
    return header_rows + (3 + len(snap.devices)) + links + (3 + side) + 3 + 1


# -- plain mode ---------------------------------------------------------------------------------


def plain_summary(snap: Snapshot) -> list[str]:
    """What a plain log says at start and stop: devices, counters, response times, drops."""
    lines = [f"lab {snap.lab}: {snap.clock} clock, {len(snap.devices)} devices"]
    for d in snap.devices:
        lines.append(
            f"  device {d.name} {d.kind} {d.eui} {d.online} {d.status} firmware {d.firmware}"
            + _device_link(d.link, d.counters())
        )
    for r in snap.links:
        lines.append(_premises_link(r.as_dict()))
    for s in snap.latency:
        lines.append(
            f"  response time {s.variant}: n {s.count} p50 {_ms(s.p50)} ms "
            f"p95 {_ms(s.p95)} ms breaches {s.breaches}"
        )
    drops = ", ".join(f"{k} {v}" for k, v in sorted(snap.drops.items())) or "none"
    lines.append(f"  drops: {drops}; bad control messages: {snap.control_errors}")
    return lines


#: Counters only some links have (`hil.live.monitor.link_extras`, a device under test's).
EXTRA_COUNTERS = ("broker_reconnects", "resent", "oversize", "lost", "reopened")


def _counts(c: Mapping[str, Any]) -> str:
    text = f"tx {c['sent']} rx {c['received']} dropped {c['dropped']} corrupted {c['corrupted']}"
    return text + "".join(f" {k.replace('_', ' ')} {c[k]}" for k in EXTRA_COUNTERS if k in c)


def _device_link(url: str, counters: Mapping[str, Any] | None) -> str:
    """A device's own link endpoint (none for a device that is not emulated)."""
    return "" if counters is None else f"; link {url}: {_counts(counters)}"


def _premises_link(r: Mapping[str, Any]) -> str:
    return (
        f"  link {r['url']}: {_counts(r)}; hub commands {r['commands']} "
        f"responses {r['responses']} alerts {r['alerts']} queued {r['queued']} "
        f"rejected {r['rejected']}"
    )


def status_lines(reply: Mapping[str, Any]) -> list[str]:
    """`lab status --text`: the `status` reply as the plain log's summary reads.

    Made from the JSON reply, not a snapshot: the client has only the reply.
    """
    lines = [
        f"lab {reply['lab']}: {reply['clock']} clock {reply['now']}, "
        f"{len(reply['devices'])} devices, requests {reply['requests']}"
    ]
    for d in reply["devices"]:
        lines.append(
            f"  device {d['name']} {d['type']} {d['eui']} {d['online']} {d['status']}"
            + _device_link(d["link"], d["counters"])
        )
    lines.extend(_premises_link(r) for r in reply["links"])
    for v in reply["latency"]:
        lines.append(
            f"  response time {v['variant']}: n {v['count']} p50 {_ms(v['p50_s'])} ms "
            f"p95 {_ms(v['p95_s'])} ms breaches {v['breaches']}"
        )
    drops = ", ".join(f"{k} {v}" for k, v in sorted(reply["drops"].items())) or "none"
    lines.append(f"  drops: {drops}; bad control messages: {reply['control_errors']}")
    return lines
