"""What the live view shows, collected from a started lab.

The monitor listens on every premises' hub (`Hub.add_listener`, as the lab's own
`_on_hub_event` does) and keeps the last messages; everything else (devices,
link counters, response times, drops) is read from the lab when a snapshot is
taken, so the view never holds a second copy of the lab's state. Control
requests and scenario runs are noted here too, so the plain log and the live
view tell one story.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from emulator.clock import VirtualClock
from emulator.devices.gsme import Gsme
from emulator.errors import GbcsError
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.gbcs.message_codes import lookup
from emulator.han.link import Link
from emulator.premises import Premises
from hil.dcc.lab import Lab
from hil.dcc.timing import VariantStats

#: How many recent messages and alerts the monitor keeps.
HISTORY = 200


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the recent-messages list: when (lab clock), what kind, a summary."""

    at: _dt.datetime
    kind: str  # command | queued | response | alert | request | scenario | control
    summary: str

    def line(self) -> str:
        return f"{self.at:%H:%M:%S} {self.kind:<8} {self.summary}"


@dataclass(frozen=True, slots=True)
class DeviceRow:
    name: str
    kind: str
    eui: str
    link: str
    online: str  # online | sleepy | offline | not emulated
    status: str  # SMI status
    firmware: str
    sent: int | None = None  # the device's link endpoint counters (None: not emulated)
    received: int | None = None
    dropped: int | None = None
    corrupted: int | None = None
    #: What else its link counts (`link_extras`) and, for a device under test, how often
    #: the lab lost its port (`lost`) and opened it again (`reopened`).
    more: tuple[tuple[str, int], ...] = ()

    def counters(self) -> dict[str, int] | None:
        """Its link's counters, None for a device that is not emulated."""
        sent, received, dropped, corrupted = self.sent, self.received, self.dropped, self.corrupted
        if sent is None or received is None or dropped is None or corrupted is None:
            return None
        c = {"sent": sent, "received": received, "dropped": dropped, "corrupted": corrupted}
        return {**c, **dict(self.more)}


@dataclass(frozen=True, slots=True)
class LinkRow:
    """A premises' HAN: the hub's endpoint counters and what the hub forwarded."""

    premises: str
    url: str
    sent: int
    received: int
    dropped: int
    corrupted: int
    commands: int
    responses: int
    alerts: int
    queued: int
    rejected: int
    more: tuple[tuple[str, int], ...] = ()  # `link_extras` of the hub's endpoint

    def as_dict(self) -> dict[str, object]:
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "more"}
        return {**row, **dict(self.more)}


def link_extras(link: Link | None) -> tuple[tuple[str, int], ...]:
    """What a link counts beyond `LinkCounters`: an MQTT link's broker reconnects and
    envelopes sent again after one, a GFI link's over-long lines dropped."""
    if link is None:
        return ()
    found = (
        ("broker_reconnects", getattr(link, "reconnects", None)),
        ("resent", getattr(link, "retried", None)),
        ("oversize", getattr(getattr(link, "lines", None), "oversize", None)),
    )
    return tuple((k, v) for k, v in found if isinstance(v, int) and not isinstance(v, bool))


@dataclass(frozen=True, slots=True)
class AlertRow:
    at: _dt.datetime
    device: str
    code: str
    use_case: str
    users: str


@dataclass
class Snapshot:
    lab: str
    clock: str  # "real" | "virtual"
    now: _dt.datetime
    uptime: float  # real seconds since the monitor started
    endpoint: str
    devices: list[DeviceRow]
    links: list[LinkRow]
    messages: list[Event]
    alerts: list[AlertRow]
    latency: list[VariantStats]
    drops: dict[str, int]  # "hub:reason", "dcc:reason", "lab:what", "link:dropped"...
    requests: int  # service requests the DCC has seen
    control_errors: int
    extra: dict[str, str] = field(default_factory=dict)


class LabMonitor:
    """Watches one started lab; `on_event` gets each new event (the plain log)."""

    def __init__(
        self,
        lab: Lab,
        *,
        endpoint: str = "",
        on_event: Callable[[Event], None] | None = None,
        history: int = HISTORY,
    ) -> None:
        self.lab = lab
        self.endpoint = endpoint
        self.on_event = on_event
        self.events: deque[Event] = deque(maxlen=history)
        self.control_errors = 0
        self._started = time.monotonic()
        self._alerts_seen = 0
        self._names = _short_names(lab)

    def attach(self) -> None:
        """Listen on every hub; call after `Lab.start`."""
        for premises in self.lab.premises:
            if premises.hub is not None:
                premises.hub.add_listener(self._on_hub_event)

    # -- events ---------------------------------------------------------------------------
    def note(self, kind: str, summary: str) -> Event:
        event = Event(self.lab.clock.now(), kind, summary)
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)
        return event

    def name_of(self, eui: Eui64 | bytes) -> str:
        key = bytes(eui)
        name = self._names.get(key)
        if name is not None:
            return name
        found = self.lab.users.by_id(key)
        return found[0].name if found is not None else str(Eui64(key))

    def _on_hub_event(self, kind: str, message: bytes) -> None:
        try:
            msg = decode_message(message)
        except GbcsError as exc:  # the hub counted it; the view says what it was
            self.note(kind, f"undecodable message ({len(message)} bytes): {exc}")
            return
        code = lookup(msg.message_code)
        route = f"{self.name_of(msg.originator)} -> {self.name_of(msg.recipient)}"
        self.note(kind, f"{code} {route}".strip())

    def poll(self) -> None:
        """Note the DCC's alerts delivered since the last poll (they arrive off the hub)."""
        dcc = self.lab.dcc
        if dcc is None:
            return
        for alert in dcc.alerts[self._alerts_seen :]:
            users = ", ".join(alert.users) or "no user"
            code = lookup(alert.message_code)
            delivered = f"delivered to {users} in {alert.delivery_s * 1000:.1f} ms"
            self.note("alert", f"{code} from {self.name_of(alert.device)} {delivered}")
        self._alerts_seen = len(dcc.alerts)

    # -- the picture ------------------------------------------------------------------------
    def snapshot(self, *, messages: int = 10, alerts: int = 5) -> Snapshot:
        lab = self.lab
        dcc = lab.dcc
        virtual = isinstance(lab.clock, VirtualClock)
        recent_alerts = [] if dcc is None else dcc.alerts[-alerts:] if alerts > 0 else []
        return Snapshot(
            lab=lab.spec.name,
            clock="virtual" if virtual else "real",
            now=lab.clock.now(),
            uptime=time.monotonic() - self._started,
            endpoint=self.endpoint,
            devices=self._devices(),
            links=[self._link_row(i, p) for i, p in enumerate(lab.premises)],
            messages=list(self.events)[-messages:] if messages > 0 else [],
            alerts=[
                AlertRow(
                    a.received,
                    self.name_of(a.device),
                    f"0x{a.message_code:04X}",
                    lookup(a.message_code).use_case,
                    ", ".join(a.users) or "-",
                )
                for a in recent_alerts
            ],
            latency=[] if dcc is None else dcc.timings.per_variant(),
            drops=self._drops(),
            requests=0 if dcc is None else len(dcc.results),
            control_errors=self.control_errors,
        )

    def _premises_url(self, index: int) -> str:
        base = self.lab.link_url or self.lab.spec.link
        return base if len(self.lab.premises) == 1 else f"{base}-{index}"

    def _devices(self) -> list[DeviceRow]:
        lab = self.lab
        rows = []
        for index, premises in enumerate(lab.premises):
            url = self._premises_url(index)
            chf = premises.chf.eui
            hub_up = premises.hub is not None and not premises.hub.link.closed
            for item in lab.inventory:
                if item.eui != chf and item.hub != chf:
                    continue
                key = bytes(item.eui)
                device = premises.devices.get(key)
                link: Link | None = None
                if item.eui in (premises.chf.eui, premises.gpf.eui):
                    online = "online" if hub_up else "offline"
                    link = premises.hub.link if premises.hub is not None else None
                    firmware = (premises.chf if item.eui == chf else premises.gpf).firmware_version
                elif key in lab.externals:  # a device under test: up while its link is
                    external = lab.externals[key]
                    link = external.link
                    online, firmware = external.state, item.firmware_version
                elif device is None:
                    online, firmware = "not emulated", item.firmware_version
                else:
                    link = _runner_link(premises, key)
                    firmware = device.firmware_version
                    if link is None or link.closed or link.lost is not None:
                        online = "offline"
                    elif isinstance(device, Gsme):
                        online = "sleepy"
                    else:
                        online = "online" if _serving(premises, item.eui) else "offline"
                counters = link.counters if link is not None else None
                more = link_extras(link)
                if key in lab.externals:
                    external = lab.externals[key]
                    more += (("lost", external.losses), ("reopened", external.reconnects))
                rows.append(
                    DeviceRow(
                        self.name_of(item.eui),
                        item.kind.value,
                        str(item.eui),
                        lab.externals[key].url
                        if key in lab.externals
                        else url
                        if online != "not emulated"
                        else "-",
                        online,
                        item.status.value,
                        firmware,
                        None if counters is None else counters.sent,
                        None if counters is None else counters.received,
                        None if counters is None else counters.dropped,
                        None if counters is None else counters.corrupted,
                        more if counters is not None else (),
                    )
                )
        return rows

    def _link_row(self, index: int, premises: Premises) -> LinkRow:
        hub = premises.hub
        name = self.lab.spec.premises[index].name if index < len(self.lab.spec.premises) else ""
        if hub is None:
            return LinkRow(name, self._premises_url(index), 0, 0, 0, 0, 0, 0, 0, 0, 0)
        c, h = hub.link.counters, hub.counters
        return LinkRow(
            name,
            self._premises_url(index),
            c.sent,
            c.received,
            c.dropped,
            c.corrupted,
            h.commands,
            h.responses,
            h.alerts,
            h.queued,
            h.rejected,
            link_extras(hub.link),
        )

    def _drops(self) -> dict[str, int]:
        drops: dict[str, int] = {}
        for premises in self.lab.premises:
            if premises.hub is not None:
                for reason, n in premises.hub.drops.items():
                    drops[f"hub: {reason}"] = drops.get(f"hub: {reason}", 0) + n
            for runner in premises.runners:
                if runner.alerts_dropped:
                    key = f"device alerts: {self.name_of(runner.device.eui)}"
                    drops[key] = runner.alerts_dropped
        if self.lab.dcc is not None:
            for reason, n in self.lab.dcc.drops.items():
                drops[f"dcc: {reason}"] = n
        for what, n in self.lab.dropped.items():
            drops[f"lab: {what}"] = n
        return drops


def _runner_link(premises: Premises, key: bytes) -> Link | None:
    for runner in premises.runners:
        if bytes(runner.device.eui) == key:
            return runner.link
    return None


def _serving(premises: Premises, eui: Eui64) -> bool:
    name = f"device[{eui}]"
    return any(t.get_name() == name and not t.done() for t in premises.tasks)


def _short_names(lab: Lab) -> dict[bytes, str]:
    """Each device's shortest alias from the lab file ("ESME" before "1 Lab Street/ESME")."""
    names: dict[bytes, str] = {}
    for alias, eui in sorted(lab.names.items(), key=lambda kv: (len(kv[0]), kv[0])):
        names.setdefault(bytes(eui), alias)
    return names
