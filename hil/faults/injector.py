"""The fault injector: faults on a running lab's links, devices and alerts, by seed.

Where each kind acts (docs/faults.md has the full table):

- link faults (latency, drop, duplicate, reorder, corrupt, truncate, split,
  link_down) and the message faults on commands (bad_mac, bad_signature,
  stale_counter, wrong_recipient) run in one manipulator installed on every
  HAN link of the lab (`Link.manipulator`, pymodbus NullModem style): the raw
  envelope a link is about to send goes in, what really goes out comes back.
  Message faults decode the GBCS message, alter it and encode it again, so the
  device sees a well-formed envelope and must refuse the message itself.
- alert faults (late_alert, lost_alert) sit in `Hub.alert_filter`, between a
  device's alert reaching the hub and the hub queueing it for the DCC.
- device faults (power_cycle, clock_drift, clock_jump) act on the device object.

Every decision comes from a `random.Random` seeded from the injector's seed and
the fault's place in the order of injection, so a rerun with the same seed and
the same traffic gives the same drops, delays and flipped bytes.

Time is the lab clock's. A delayed envelope is released by a clock timer; with
a virtual clock the injector moves time forward to the next release once the
event loop has nothing else to run, so latency costs virtual seconds and no real
waiting. A late alert is released only when the lab's time reaches it (a test
moves time with `Lab.run_for`), so "the alert has not arrived yet" can be seen.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import itertools
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator.clock import Clock, Timer, VirtualClock
from emulator.devices.base import POWER_RESTORED, Device, Outbound
from emulator.errors import EmulatorError, GbcsError
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, decode_message
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.link import Link, LinkFault
from hil.faults import manipulate as m
from hil.faults.spec import (
    MESSAGE_KINDS,
    AnyFault,
    BadMacFault,
    BadSignatureFault,
    ClockDriftFault,
    ClockJumpFault,
    CorruptFault,
    DropFault,
    DuplicateFault,
    FaultSpecError,
    LateAlertFault,
    LatencyFault,
    LinkDownFault,
    LostAlertFault,
    PowerCycleFault,
    ReorderFault,
    SplitFault,
    StaleCounterFault,
    TruncateFault,
    WrongRecipientFault,
    _DeviceFault,
    _Targeted,
    parse_fault,
)

if TYPE_CHECKING:
    from emulator.hub import Hub
    from hil.dcc.lab import Lab
    from hil.scenario.record import FaultRecord, Stamp

log = logging.getLogger(__name__)

#: Loop turns the injector lets pass before it moves virtual time to the next
#: release: enough for a command to reach a device and its answer to come back.
IDLE_TURNS = 20

LINK_KINDS = (
    LatencyFault,
    DropFault,
    DuplicateFault,
    ReorderFault,
    CorruptFault,
    TruncateFault,
    SplitFault,
    LinkDownFault,
    BadMacFault,
    BadSignatureFault,
    StaleCounterFault,
    WrongRecipientFault,
)
ALERT_KINDS = (LateAlertFault, LostAlertFault)
#: Message faults that alter commands (a response or alert is passed on unchanged).
COMMAND_KINDS = (BadMacFault, BadSignatureFault, StaleCounterFault, WrongRecipientFault)


@dataclass(eq=False)
class FaultHandle:
    """One injected fault: its spec, its record (with counters) and its state."""

    id: int
    spec: AnyFault
    record: FaultRecord
    rng: random.Random
    active: bool = True
    #: Device the fault names or targets (None: all, a message kind or a link URL).
    device: Eui64 | None = None
    _timer: Timer | None = None
    _state: dict[str, Any] = field(default_factory=dict)
    _reordering: dict[Link, _Held] = field(default_factory=dict)  # per link, one held back

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def counters(self) -> dict[str, Any]:
        return self.record.detail

    def count(self, what: str, n: int = 1) -> None:
        self.record.detail[what] = int(self.record.detail.get(what, 0)) + n


@dataclass(eq=False)
class _Held:
    """Something held back: a delayed envelope or alert, released once."""

    release: Callable[[], None]
    due: _dt.datetime
    advance: bool  # with a virtual clock, move time to `due` when idle
    handle: FaultHandle
    timer: Timer | None = None
    done: bool = False
    raw: bytes = b""  # the envelope, for a reorder that swaps it with the next one

    def fire(self) -> None:
        if not self.done:
            self.done = True
            self.release()


class FaultInjector:
    """Injects faults into a started lab; `aclose` leaves links and devices as found."""

    def __init__(
        self,
        lab: Lab,
        *,
        seed: int = 0,
        on_record: Callable[[FaultRecord], None] | None = None,
    ) -> None:
        self.lab = lab
        self.seed = seed
        self.on_record = on_record
        self.clock: Clock = lab.clock
        self._handles: list[FaultHandle] = []
        self._records: list[FaultRecord] = []
        self._ids = itertools.count(1)
        self._t0 = time.perf_counter()
        self._links: dict[Link, LinkFault | None] = {}  # link -> its own manipulator
        self._hubs: dict[Hub, Callable[[bytes], bool] | None] = {}
        self._held: list[_Held] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._pump: asyncio.Task[None] | None = None
        self._closed = False

    # -- the API ----------------------------------------------------------------------------
    @property
    def records(self) -> list[FaultRecord]:
        """One record per injected fault, counters in `detail`, in injection order."""
        return list(self._records)

    @property
    def active(self) -> list[FaultHandle]:
        return [h for h in self._handles if h.active]

    def inject(self, spec: AnyFault | Mapping[str, Any], *, name: str | None = None) -> FaultHandle:
        """Start a fault now; one with ``for`` clears itself after that long on the lab clock."""
        if self._closed:
            raise FaultSpecError("fault: the injector is closed")
        fault = parse_fault(spec if not isinstance(spec, Mapping) else dict(spec))
        device = self._resolve(fault)
        ordinal = next(self._ids)
        from hil.scenario.record import FaultRecord  # hil.scenario imports this package

        target = (
            fault.device if isinstance(fault, _DeviceFault) else getattr(fault, "target", "all")
        )
        record = FaultRecord(
            name=name or fault.label(),
            target=target,
            started=self._stamp(),
            detail={"kind": fault.kind},
        )
        handle = FaultHandle(
            ordinal,
            fault,
            record,
            random.Random(f"{self.seed}:{ordinal}:{fault.kind}"),
            device=device,
        )
        self._handles.append(handle)
        self._records.append(record)
        if isinstance(fault, (*LINK_KINDS, PowerCycleFault)):
            self._install_links()
        if isinstance(fault, ALERT_KINDS):
            self._install_hubs()
        if isinstance(fault, PowerCycleFault):
            self._power_off(handle, fault)
            duration: float | None = fault.off_for
        else:
            if isinstance(fault, ClockDriftFault | ClockJumpFault):
                self._skew(handle, fault)
            duration = fault.for_
        if duration is not None:
            when = self.clock.now() + _dt.timedelta(seconds=duration)
            handle._timer = self.clock.call_at(when, lambda: self.clear(handle))
        if self.on_record is not None:
            self.on_record(record)
        log.info("fault %s on %s started", record.name, record.target)
        return handle

    def clear(self, handle: FaultHandle | None = None) -> None:
        """End one fault (None: all). What it already holds back is still released on time."""
        # newest first: a clock fault stacked on another unwraps before the one beneath
        for h in [handle] if handle is not None else reversed(self._handles):
            if not h.active:
                continue
            h.active = False
            if h._timer is not None:
                h._timer.cancel()
            if isinstance(h.spec, PowerCycleFault):
                self._power_on(h)
            elif isinstance(h.spec, ClockDriftFault | ClockJumpFault):
                self._unskew(h)
            h.record.ended = self._stamp()
            log.info("fault %s on %s cleared", h.record.name, h.record.target)

    async def aclose(self) -> None:
        """Clear every fault, drop what is still held (counted), restore links and hubs."""
        self.clear()
        self._closed = True
        for held in self._held:
            if not held.done:
                held.done = True
                if held.timer is not None:
                    held.timer.cancel()
                held.handle.count("discarded_at_close")
        self._held.clear()
        for link, original in self._links.items():
            link.manipulator = original
        self._links.clear()
        for hub, original_filter in self._hubs.items():
            hub.alert_filter = original_filter
        self._hubs.clear()
        tasks = [*self._tasks, *([self._pump] if self._pump is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._pump = None

    async def __aenter__(self) -> FaultInjector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- targets ------------------------------------------------------------------------------
    def _resolve(self, fault: AnyFault) -> Eui64 | None:
        from hil.dcc.lab import LabError

        if isinstance(fault, _DeviceFault):
            try:
                eui = self.lab.eui(fault.device)
            except LabError as exc:
                raise FaultSpecError(f"fault.device: {exc}") from None
            device = self.lab.device(eui)
            if device is None or self._runner(eui) is None:
                raise FaultSpecError(
                    f"fault.device: {fault.device!r} is not an emulated device on the HAN"
                    " (the CHF and GPF are hosted in the hub)"
                )
            return eui
        assert isinstance(fault, _Targeted)
        target = fault.target
        if target == "all" or target in MESSAGE_KINDS:
            return None
        if "://" in target:
            urls = {link.url for p in self.lab.premises for link in p.links}
            if target not in urls:
                known = ", ".join(sorted(urls)) or "none (is the lab started?)"
                raise FaultSpecError(f"fault.target: no link {target!r} (links: {known})")
            return None
        try:
            return self.lab.eui(target)
        except LabError as exc:
            known = ", ".join(("all", *MESSAGE_KINDS, *sorted(self.lab.names)))
            raise FaultSpecError(
                f"fault.target: {target!r} is neither a device of the lab nor a message kind"
                f" (known: {known})"
            ) from exc

    def _runner(self, eui: Eui64) -> Any:
        for premises in self.lab.premises:
            for runner in premises.runners:
                if runner.device.eui == eui:
                    return runner
        return None

    @staticmethod
    def _matches(handle: FaultHandle, link: Link, env: Envelope | None, raw: bytes) -> bool:
        spec = handle.spec
        if isinstance(spec, PowerCycleFault):
            return env is not None and handle.device in (env.source, env.destination)
        assert isinstance(spec, _Targeted)
        target = spec.target
        if target == "all":
            return True
        if "://" in target:
            return link.url == target
        if env is None:
            return False
        if target in MESSAGE_KINDS:
            return env.kind == EnvelopeKind.GBCS and _cra(env.payload) == target
        return handle.device in (env.source, env.destination)

    # -- links --------------------------------------------------------------------------------
    def _install_links(self) -> None:
        for premises in self.lab.premises:
            for link in premises.links:
                if link not in self._links:
                    self._links[link] = link.manipulator
                    link.manipulator = self._manipulator(link, link.manipulator)

    def _manipulator(self, link: Link, own: LinkFault | None) -> LinkFault:
        def manipulate(raw: bytes) -> list[bytes]:
            chunks = [raw] if own is None else own(raw)
            out: list[bytes] = []
            for chunk in chunks:
                out.extend(self._through(link, chunk))
            return out

        return manipulate

    def _through(self, link: Link, raw: bytes) -> list[bytes]:
        """One raw envelope through every active link fault, in injection order.

        Faults that hold an envelope back (latency, reorder) act last, so what
        they release later has already met every other fault.
        """
        handles = [
            h
            for h in self._handles
            if h.active and isinstance(h.spec, (*LINK_KINDS, PowerCycleFault))
        ]
        handles.sort(key=lambda h: (isinstance(h.spec, LatencyFault | ReorderFault), h.id))
        chunks = [raw]
        for handle in handles:
            out: list[bytes] = []
            for chunk in chunks:
                try:
                    env: Envelope | None = Envelope.decode(chunk)
                except GbcsError:
                    env = None
                if not self._matches(handle, link, env, chunk):
                    out.append(chunk)
                    continue
                handle.count("seen")
                out.extend(self._apply(handle, link, env, chunk))
            chunks = out
        return chunks

    def _roll(self, handle: FaultHandle) -> bool:
        """Does the fault act on this message? Draws from its generator even at rate 1."""
        spec = handle.spec
        assert isinstance(spec, _Targeted)
        return handle.rng.random() < spec.rate

    def _acted(self, handle: FaultHandle, what: str) -> None:
        handle.count(what)
        spec = handle.spec
        if isinstance(spec, _Targeted) and spec.count is not None:
            handle.count("acted")
            if handle.counters["acted"] >= spec.count:
                self.clear(handle)

    def _apply(
        self, handle: FaultHandle, link: Link, env: Envelope | None, raw: bytes
    ) -> list[bytes]:
        spec = handle.spec
        if isinstance(spec, PowerCycleFault):
            handle.count("missed")
            return []
        if isinstance(spec, LinkDownFault):
            self._acted(handle, "dropped")
            return []
        if isinstance(spec, COMMAND_KINDS):
            return self._alter_command(handle, env, raw)
        if isinstance(spec, ReorderFault):
            return self._reorder(handle, spec, link, raw)
        if not self._roll(handle):
            return [raw]
        rng = handle.rng
        if isinstance(spec, DropFault):
            self._acted(handle, "dropped")
            return []
        if isinstance(spec, DuplicateFault):
            self._acted(handle, "duplicated")
            return [raw, raw]
        if isinstance(spec, CorruptFault):
            self._acted(handle, "corrupted")
            return [m.corrupt(raw, spec.bytes, rng, payload_only=spec.region == "payload")]
        if isinstance(spec, TruncateFault):
            self._acted(handle, "truncated")
            return [m.truncate(raw, spec.keep, rng)]
        if isinstance(spec, SplitFault):
            return self._split(handle, spec, env, raw)
        if isinstance(spec, LatencyFault):
            delay = spec.delay + (rng.uniform(0.0, spec.jitter) if spec.jitter else 0.0)
            self._acted(handle, "delayed")
            total = float(handle.counters.get("delay_s", 0.0)) + delay
            handle.counters["delay_s"] = round(total, 6)
            self._hold_envelope(handle, link, raw, delay)
            return []
        raise AssertionError(f"unhandled fault kind {spec.kind}")  # pragma: no cover

    def _split(
        self, handle: FaultHandle, spec: SplitFault, env: Envelope | None, raw: bytes
    ) -> list[bytes]:
        if spec.mode == "frame":
            self._acted(handle, "split")
            return m.split_frame(raw, spec.at, handle.rng)
        msg = _gbcs(env)
        if env is None or msg is None:
            handle.count("skipped")  # no GBCS message to segment
            return [raw]
        self._acted(handle, "split")
        return m.split_gbt(env, msg, spec.block_size)

    def _reorder(
        self, handle: FaultHandle, spec: ReorderFault, link: Link, raw: bytes
    ) -> list[bytes]:
        held = handle._reordering.get(link)
        if held is not None and not held.done:
            # the held one goes out after this one: they swap places
            held.done = True
            if held.timer is not None:
                held.timer.cancel()
            handle._reordering.pop(link, None)
            self._acted(handle, "reordered")
            return [raw, held.raw]
        if not self._roll(handle):
            return [raw]
        handle.count("held")
        held = self._hold_envelope(handle, link, raw, spec.window)
        held.raw = raw
        handle._reordering[link] = held
        return []

    def _alter_command(self, handle: FaultHandle, env: Envelope | None, raw: bytes) -> list[bytes]:
        msg = _gbcs(env)
        if env is None or msg is None or msg.cra != Cra.COMMAND:
            return [raw]
        spec = handle.spec
        key = (bytes(msg.originator), bytes(msg.recipient))
        last: dict[tuple[bytes, bytes], int] = handle._state.setdefault("counters", {})
        previous = last.get(key)
        last[key] = max(msg.counter, previous or 0)
        if not self._roll(handle):
            return [raw]
        altered: GbcsMessage | None
        if isinstance(spec, BadMacFault):
            altered = m.bad_mac(msg, handle.rng)
        elif isinstance(spec, BadSignatureFault):
            altered = m.bad_signature(msg, handle.rng)
        elif isinstance(spec, StaleCounterFault):
            altered = m.with_counter(msg, previous if previous is not None else 0)
        else:
            altered = m.with_recipient(msg, m.other_eui(msg.recipient))
        if altered is None:
            handle.count("skipped")  # no MAC, or not signed: nothing to spoil
            return [raw]
        try:
            payload = altered.encode()
        except GbcsError as exc:
            handle.count("skipped")
            log.warning("fault %s: cannot re-encode the command: %s", handle.name, exc)
            return [raw]
        self._acted(handle, "altered")
        return [Envelope(env.source, env.destination, env.kind, payload, env.sequence).encode()]

    # -- holding back ----------------------------------------------------------------------------
    def _hold_envelope(self, handle: FaultHandle, link: Link, raw: bytes, delay: float) -> _Held:
        def release() -> None:
            self._spawn(self._send_raw(handle, link, raw))

        return self._hold(handle, release, delay, advance=True)

    async def _send_raw(self, handle: FaultHandle, link: Link, raw: bytes) -> None:
        try:
            await link.send_raw(raw)
        except EmulatorError as exc:  # the link went away meanwhile
            handle.count("lost_in_flight")
            log.warning("fault %s: held envelope not sent: %s", handle.name, exc)

    def _hold(
        self, handle: FaultHandle, release: Callable[[], None], delay: float, *, advance: bool
    ) -> _Held:
        due = self.clock.now() + _dt.timedelta(seconds=delay)
        if len(self._held) > 256:  # forget what went out already
            self._held = [h for h in self._held if not h.done]
        held = _Held(release, due, advance, handle)
        held.timer = self.clock.call_at(due, held.fire)
        self._held.append(held)
        pump_idle = self._pump is None or self._pump.done()
        if advance and isinstance(self.clock, VirtualClock) and pump_idle:
            self._pump = asyncio.get_running_loop().create_task(self._advance_when_idle())
        return held

    async def _advance_when_idle(self) -> None:
        """Move virtual time to the next release once the loop has nothing else to do."""
        clock = self.clock
        assert isinstance(clock, VirtualClock)
        while True:
            for _ in range(IDLE_TURNS):
                await asyncio.sleep(0)
            self._held = [h for h in self._held if not h.done]
            waiting = [h for h in self._held if h.advance]
            if not waiting:
                return
            due = min(h.due for h in waiting)
            if due > clock.now():
                clock.set(due)
            for h in waiting:
                if h.due <= clock.now():
                    h.fire()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- alerts ---------------------------------------------------------------------------------
    def _install_hubs(self) -> None:
        for premises in self.lab.premises:
            hub = premises.hub
            if hub is not None and hub not in self._hubs:
                self._hubs[hub] = hub.alert_filter
                hub.alert_filter = self._alert_filter(hub, hub.alert_filter)

    def _alert_filter(
        self, hub: Hub, own: Callable[[bytes], bool] | None
    ) -> Callable[[bytes], bool]:
        def keep(raw: bytes) -> bool:
            if own is not None and not own(raw):
                return False
            return self._on_alert(hub, raw)

        return keep

    def _on_alert(self, hub: Hub, raw: bytes) -> bool:
        try:
            originator: Eui64 | None = decode_message(raw).originator
        except GbcsError:
            originator = None
        for handle in [h for h in self._handles if h.active]:
            spec = handle.spec
            if not isinstance(spec, ALERT_KINDS):
                continue
            if spec.target not in ("all", "alert") and handle.device != originator:
                continue
            handle.count("seen")
            if not self._roll(handle):
                continue
            if isinstance(spec, LostAlertFault):
                self._acted(handle, "lost")
                log.info("fault %s: alert from %s lost", handle.name, originator)
                return False
            self._acted(handle, "delayed")
            self._hold(handle, lambda: hub.release_alert(raw), spec.delay, advance=False)
            return False
        return True

    # -- devices ----------------------------------------------------------------------------------
    def _device(self, handle: FaultHandle) -> Device:
        assert handle.device is not None
        device = self.lab.device(handle.device)
        assert device is not None
        return device

    def _power_off(self, handle: FaultHandle, spec: PowerCycleFault) -> None:
        """Off: nothing reaches the device or leaves it; it keeps its non-volatile state."""
        device = self._device(handle)
        handle._state["kept"] = device.to_state()
        handle._state["on_alert"] = device.on_alert

        def alert_while_off(out: Outbound) -> None:
            handle.count("alerts_lost")

        device.on_alert = alert_while_off
        log.info("fault %s: %s is off", handle.name, device)

    def _power_on(self, handle: FaultHandle) -> None:
        """On again: the device restarts from what it keeps, as from its state file."""
        device = self._device(handle)
        device.on_alert = handle._state.pop("on_alert", device.on_alert)
        device.load_state(handle._state.pop("kept"))
        device.event_log.record(self.clock.now(), POWER_RESTORED, "power restored (fault)")
        handle.count("restarts")

    def _skew(self, handle: FaultHandle, spec: ClockDriftFault | ClockJumpFault) -> None:
        device = self._device(handle)
        offset = spec.by if isinstance(spec, ClockJumpFault) else 0.0
        ppm = spec.ppm if isinstance(spec, ClockDriftFault) else 0.0
        skewed = SkewedClock(device.clock, offset=offset, ppm=ppm)
        handle._state["clock"] = skewed
        device.clock = skewed
        handle.counters["offset_s"] = offset

    def _unskew(self, handle: FaultHandle) -> None:
        device = self._device(handle)
        skewed: SkewedClock = handle._state["clock"]
        handle.counters["offset_s"] = round(skewed.offset_s(), 6)
        if device.clock is skewed:
            device.clock = skewed.base
        else:  # another clock fault wraps this one: leave the chain, make this link inert
            skewed.stop()

    # -- records ----------------------------------------------------------------------------------
    def _stamp(self) -> Stamp:
        from hil.scenario.record import Stamp

        return Stamp(self.clock.now().isoformat(), round(time.perf_counter() - self._t0, 6))


class SkewedClock:
    """A device's view of the lab clock: offset by a jump, running fast or slow by ppm."""

    def __init__(self, base: Clock, *, offset: float = 0.0, ppm: float = 0.0) -> None:
        self.base = base
        self.offset = offset
        self.ppm = ppm
        self._since = base.now()

    def offset_s(self) -> float:
        elapsed = (self.base.now() - self._since).total_seconds()
        return self.offset + elapsed * self.ppm / 1e6

    def stop(self) -> None:
        self.offset, self.ppm = 0.0, 0.0

    def now(self) -> _dt.datetime:
        return self.base.now() + _dt.timedelta(seconds=self.offset_s())

    def monotonic(self) -> float:
        return self.base.monotonic()

    def call_at(self, when: _dt.datetime, callback: Callable[[], None]) -> Timer:
        """A device timer for its own clock's `when`, placed on the lab clock."""
        return self.base.call_at(when - _dt.timedelta(seconds=self.offset_s()), callback)

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)

    def set(self, when: _dt.datetime) -> int:
        """Devices warming up move the lab clock; the skew stays."""
        setter = getattr(self.base, "set", None)
        if setter is None:
            return 0
        return int(setter(when - _dt.timedelta(seconds=self.offset_s())))


def _cra(payload: bytes) -> str | None:
    try:
        return decode_message(payload).cra.name.lower()
    except GbcsError:
        return None


def _gbcs(env: Envelope | None) -> GbcsMessage | None:
    if env is None or env.kind != EnvelopeKind.GBCS:
        return None
    try:
        return decode_message(env.payload)
    except GbcsError:
        return None
