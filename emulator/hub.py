"""The hub controller: CHF and GPF, HAN routing, and the WAN side as an async API.

What it does with a command from the WAN (`send`):

- addressed to the CHF or the GPF: they are hosted here and answer at once;
- addressed to a device in the CHF Device Log: carried over the HAN link; a
  sleepy device's commands wait in a queue until it announces a wake-up (WAKE).
  It is awake until its SLEEP, or until `awake_grace` seconds pass without a word
  from it: a SLEEP lost in a power cut does not leave it "awake" for good;
- addressed to anything else: refused (`NotAdmitted`), nothing goes on the HAN.

Responses are matched to commands by (originator, counter) and returned from
`send`; alerts from any device, hosted or remote, come out of `alerts()`. Only
devices in the CHF Device Log may talk on the HAN. A waking GSME's mirror updates
the GPF.

Nothing from the HAN is dropped silently: what the hub cannot use is counted in
`Hub.drops` by reason and logged (one warning line each):

- ``unadmitted``: an envelope from a device not in the CHF Device Log;
- ``undecodable``: a GBCS message that does not decode;
- ``unmatched_response``: a response no command waits for (late, or unknown);
- ``unexpected_command``: a command sent to the hub by a HAN device;
- ``unexpected_envelope``: an envelope kind the hub does not take (ACK, STATE, ...);
- ``mirror``: mirror data the GPF refuses (not JSON, or of the wrong shape);
- ``no_gpf``: a mirror for a hub that hosts no GPF;
- ``asleep``: a firmware block request from a sleepy device the hub thinks asleep;
- ``unrouted``: a ZSE frame for a device on the link it came from (no relay needed);
- ``zse_overflow``: a ZSE frame for a sleeping device that already has `zse_hold_limit`
  frames held for its next WAKE;
- ``zse_expired``: a held ZSE frame older than `zse_hold` seconds at its device's WAKE
  (its sender stopped waiting long ago: delivering it late would act twice or too late);
- ``zse_unsent``: ZSE frames still held when the hub stops;
- ``gbcs_only``: a ZSE frame for a device on a ``gfi+`` link (GFI lines carry GBCS only).

ZSE frames (kind 16) between two admitted devices on different links (an emulated
PPMID on the lab's bus, a meter under test on its port) are relayed, counted in
`counters.relayed`; a ZSE frame for the hub itself is an ``unexpected_envelope``.
A ZSE frame for a sleepy device the hub takes as asleep is held, like its GBCS
commands, and relayed after them at its next WAKE (`counters.zse_held`); the hold
is bounded in number (`zse_hold_limit`) and age (`zse_hold`).

Listeners (`add_listener`) see every message crossing the hub, in the manner of
python-can's Notifier, for recorders and reports. `alert_filter` sees every alert
before it is queued for the WAN (fault injection: a lost or late alert).
A message that arrives as GBT blocks is joined before the hub acts on it.

Joining (`docs/wire-protocol.md`, "Joining"): a JOIN is answered whether or not
the device is admitted yet; the CHF decides (`Chf.han_join`) and the hub sends
JOIN_ACCEPT or JOIN_REFUSE back on the device's link. Every answer is counted in
`Hub.joins` (the CHF's `JoinCounters`: accepted, refused, and each refusal by
reason: not_in_log, window_closed, bad_proof, log_full, malformed,
key_not_allowed) and each refusal is logged by the CHF.

Firmware (`distribute`): the hub checks an OTA image and moves it to its target
in blocks (emulator/hub_ota.py); OTA_REQUEST / OTA_END envelopes go there.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import logging
import os
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from emulator.clock import Clock, stopwatch
from emulator.devices.base import ECS100, Outbound
from emulator.devices.chf import Chf
from emulator.devices.gpf import Gpf
from emulator.errors import EmulatorError, GbcsError, LinkClosed, LinkTimeout
from emulator.gbcs.alert_body import named_command
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, decode_message
from emulator.gbcs.gbt import Reassembler, is_gbt
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.join import NONCE_SIZE, JoinAccept, JoinCounters, JoinRefuse, JoinRequest
from emulator.han.link import Link
from emulator.hub_ota import OtaDistributor, Outcome, block_size_for
from emulator.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: Default `Hub.zse_hold_limit`: ZSE frames held for one sleeping device. A consumer
#: at a PPMID makes a request or two per wake interval, never dozens.
ZSE_HOLD_LIMIT = 8
#: Default `Hub.zse_hold`: seconds (hub clock) a held ZSE frame may wait for its
#: device's WAKE; two of a GSME's default 30-minute wake intervals. The PPMID waits one
#: interval and a little: an older frame has nobody waiting for its answer.
ZSE_HOLD = 3600.0

#: Default `Hub.awake_grace`: seconds of silence after which a sleepy device whose
#: SLEEP never came is taken as asleep (a GSME is awake 10 s per wake-up).
AWAKE_GRACE = 60.0

Listener = Callable[[str, bytes], None]  # ("command" | "queued" | "response" | "alert", message)


def _same_medium(a: Link, b: Link) -> bool:
    """Two links on one medium (one memory bus, one MQTT broker and lab) reach each other
    without the hub."""
    return a is b or a.url == b.url


class HubError(EmulatorError):
    pass


class NotAdmitted(HubError):
    """The target is not in the CHF Device Log."""


class CommandRejected(HubError):
    """A hosted function refused the command; `reason` is its security-log entry."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class CommandNotSupported(CommandRejected):
    """The device answered with the "command not supported" alert (ECS100)."""


class ResponseTimeout(HubError, TimeoutError):
    pass


@dataclass(slots=True)
class HubCounters:
    commands: int = 0
    responses: int = 0
    alerts: int = 0
    queued: int = 0
    rejected: int = 0
    #: Sleepy devices taken as asleep after `Hub.awake_grace` of silence (a lost SLEEP).
    presumed_asleep: int = 0
    #: ZSE frames carried from one HAN link to another (a PPMID and a meter under test).
    relayed: int = 0
    #: ZSE frames held for a sleeping device until its WAKE (then relayed or expired).
    zse_held: int = 0


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[bytes]
    target: bytes


@dataclass(slots=True)
class SleepyQueue:
    awake: bool = False
    waiting: deque[bytes] = field(default_factory=deque)
    #: Hub-clock time after which an awake device that has said nothing more is
    #: taken as asleep: its SLEEP may be lost (a power cut mid-wake), and a hub that
    #: kept it "awake" would forward commands into the void instead of queueing them.
    awake_until: _dt.datetime | None = None
    #: Taken as asleep by its silence alone (no SLEEP came): its next word wakes it.
    presumed: bool = False
    #: ZSE frames (another device's requests) held for its next WAKE, with the hub-clock
    #: time each was held; relayed after the GBCS commands.
    zse: deque[tuple[_dt.datetime, Envelope]] = field(default_factory=deque)


class Hub:
    def __init__(
        self,
        chf: Chf,
        link: Link,
        clock: Clock,
        *,
        gpf: Gpf | None = None,
        state_file: Path | None = None,
    ) -> None:
        self.chf = chf
        self.gpf = gpf
        self.link = link  # the default HAN link (a bus: memory, MQTT)
        self.links: list[Link] = [link]
        self.routes: dict[bytes, Link] = {}  # point-to-point links (serial ports) by device
        self.clock = clock
        self.counters = HubCounters()
        #: What the hub received from the HAN and could not use, by reason (see the
        #: module docstring); each drop is also logged.
        self.drops: Counter[str] = Counter()
        #: Where the hub's join nonces come from (a test makes them repeatable).
        self.nonce: Callable[[int], bytes] = os.urandom
        self._pending: dict[tuple[bytes, int], _Pending] = {}
        self._alerts: asyncio.Queue[bytes] = asyncio.Queue()
        self._sleepy: dict[bytes, SleepyQueue] = defaultdict(SleepyQueue)
        #: Seconds (hub clock) a sleepy device stays awake in the hub's view after the
        #: last envelope it sent; its SLEEP ends that sooner. A GSME's window is 10 s.
        self.awake_grace = AWAKE_GRACE
        #: ZSE frames held for one sleeping device at most; one more is dropped.
        self.zse_hold_limit = ZSE_HOLD_LIMIT
        #: Seconds (hub clock) a held ZSE frame may wait for its device's WAKE.
        self.zse_hold = ZSE_HOLD
        #: Told the target's EUI-64 when a ZSE frame is held for it (a virtual-time lab
        #: brings the meter's next wake-up forward, as for a queued GBCS command).
        self.on_zse_held: Callable[[bytes], None] | None = None
        self._listeners: list[Listener] = []
        #: Sees every alert (hosted or from the HAN) before it is queued for the WAN;
        #: False means it kept the alert (a fault injector losing it, or delaying it
        #: and handing it to `release_alert` later).
        self.alert_filter: Callable[[bytes], bool] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._sequence = 0
        self._gbt = Reassembler()
        self._elapsed = stopwatch(clock)
        #: Seconds each forwarded command spent on the HAN (hub to device and back,
        #: including a sleepy device's wait), by (originator, counter): response
        #: times for SMETS2+ devices leave this out (SEC H3.15).
        self.han_seconds: dict[tuple[bytes, int], float] = {}
        for hosted in (chf, gpf):
            if hosted is not None:
                hosted.on_alert = self._hosted_alert
        self.ota = OtaDistributor(
            chf,
            clock,
            self._send_envelope,
            block_size=lambda t: block_size_for(self.routes.get(t, self.link).url),
            is_sleepy=lambda t: t in self._sleepy,
        )
        #: Where the hub keeps its firmware transfers (JSON), written on every change and
        #: read at start: a restarted hub resumes each transfer at its last offset.
        self.state_file = state_file
        if state_file is not None:
            self.ota.on_change = self.save_state

    # -- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Hub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._started = True
        for link in self.links:
            await self._attach(link)
            await self._hear_for_port(link)
        if self.state_file is not None and self.state_file.is_file():
            self.load_state()
            for target in list(self.ota.transfers):
                if target not in self._sleepy:  # a sleepy target resumes at its next wake
                    self._tasks.append(asyncio.create_task(self.ota.notify(target)))

    def save_state(self) -> None:
        """Write the firmware transfers to the state file (atomically: tmp, then rename)."""
        if self.state_file is None:
            return
        text = json.dumps({"chf": str(self.chf.eui), "ota": self.ota.to_state()})
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.state_file)

    def load_state(self) -> None:
        """Read the state file; a damaged or foreign one is a `HubError` (one line)."""
        assert self.state_file is not None
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            if state.get("chf") != str(self.chf.eui):
                raise ValueError(f"it is the state of hub {state.get('chf')}")
            self.ota.load_state(state["ota"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EmulatorError) as exc:
            raise HubError(f"hub state file {self.state_file} cannot be restored: {exc}") from exc

    async def _attach(self, link: Link) -> None:
        await link.bind(self.chf.eui)
        if self.gpf is not None:
            await link.bind(self.gpf.eui)
        name = f"hub[{self.chf.eui}].receive[{len(self._tasks)}]"
        self._tasks.append(asyncio.create_task(self._receive_loop(link), name=name))

    async def add_link(self, link: Link, devices: list[Eui64] | None = None) -> None:
        """Another HAN link; `devices` are reached only through it (a serial port each).

        The hub also listens for them on its default link, so what a device there
        sends one of them (a PPMID's ZSE frame) is relayed onto its port; a bus
        shared with the port (one memory bus or MQTT lab) reaches it directly.
        """
        self.links.append(link)
        for eui in devices or []:
            self.routes[bytes(Eui64(eui))] = link
            if not _same_medium(link, self.link):
                await self.link.bind(eui)
        if self._started:
            await self._attach(link)
            await self._hear_for_port(link)

    async def _hear_for_port(self, link: Link) -> None:
        """A device on its own port may address another HAN device (a PPMID under test
        asking a meter in ZSE): the port takes those addresses too, for the relay.

        After the hub's own addresses (a link's first address is its primary); not on
        a ``gfi+`` link, whose lines carry GBCS for the hub only.
        """
        port = [key for key, routed in self.routes.items() if routed is link]
        if not port or _same_medium(link, self.link) or link.url.lower().startswith("gfi+"):
            return
        for key in self.chf.log.entries:
            if key not in port:
                await link.bind(Eui64(key))

    async def stop(self) -> None:
        self.ota.stop()
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        self._started = False
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()
        for target, queue in self._sleepy.items():
            if queue.zse:
                self.drops["zse_unsent"] += len(queue.zse)
                log.warning(
                    "hub %s dropped zse_unsent: %d ZSE frame(s) held for %s at stop",
                    self.chf.eui,
                    len(queue.zse),
                    Eui64(target),
                )
                queue.zse.clear()

    # -- configuration ---------------------------------------------------------------------
    @property
    def joins(self) -> JoinCounters:
        """JOINs answered and refusals by reason (kept by the CHF)."""
        return self.chf.joins

    def register_sleepy(self, eui: Eui64 | str) -> None:
        self._sleepy[bytes(Eui64(eui))]

    def is_awake(self, eui: Eui64 | str) -> bool:
        """Whether the hub takes the device as awake (a device that never sleeps: True)."""
        key = bytes(Eui64(eui))
        queue = self._sleepy.get(key)
        return queue is None or self._awake(key, queue)

    async def _heard(self, target: bytes, queue: SleepyQueue, *, drain: bool = True) -> None:
        """The device is awake for `awake_grace` more seconds; on a WAKE what waits goes."""
        queue.awake, queue.presumed = True, False
        queue.awake_until = self.clock.now() + _dt.timedelta(seconds=self.awake_grace)
        while drain and queue.waiting:
            await self._forward(target, queue.waiting.popleft())
        while drain and queue.zse:
            held, env = queue.zse.popleft()
            age = (self.clock.now() - held).total_seconds()
            if age > self.zse_hold:
                self._drop(
                    "zse_expired",
                    f"ZSE frame from {env.source} for {env.destination} held {age:g} s",
                )
                continue
            await self._send_zse(self.routes.get(target, self.link), env)

    def waiting_for(self, eui: Eui64 | str) -> int:
        """Commands queued for a sleepy device's next wake-up."""
        queue = self._sleepy.get(bytes(Eui64(eui)))
        return 0 if queue is None else len(queue.waiting)

    def zse_waiting_for(self, eui: Eui64 | str) -> int:
        """ZSE frames held for a sleepy device's next wake-up."""
        queue = self._sleepy.get(bytes(Eui64(eui)))
        return 0 if queue is None else len(queue.zse)

    def refuse_zse(self, source: Eui64 | str, destination: Eui64 | str) -> str | None:
        """Why a ZSE frame from `source` cannot reach `destination` at all (one line,
        counted as the drop ``gbcs_only`` and logged), or None when it can.

        A device on a ``gfi+`` link is spoken to in GFI lines, and the public GFI
        line (``GBCS:DATA#n:length:hex``) has no form for anything but a GBCS message.
        """
        link = self.routes.get(bytes(Eui64(destination)))
        if link is None or not link.url.lower().startswith("gfi+"):
            return None
        refusal = f"{Eui64(destination)} is on {link.url}: gfi links carry GBCS only, not ZSE"
        self._drop("gbcs_only", f"ZSE frame from {Eui64(source)}: {refusal}")
        return refusal

    def _awake(self, target: bytes, queue: SleepyQueue) -> bool:
        """Awake, unless silent past `awake_grace`: then its SLEEP was lost (a power cut
        mid-wake) and it is taken as asleep, so commands queue for its next wake-up."""
        if queue.awake and queue.awake_until is not None and self.clock.now() >= queue.awake_until:
            queue.awake, queue.awake_until, queue.presumed = False, None, True
            self.counters.presumed_asleep += 1
            log.warning(
                "hub %s: %s silent for %g s without a SLEEP: taken as asleep",
                self.chf.eui,
                Eui64(target),
                self.awake_grace,
            )
        return queue.awake

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _notify(self, kind: str, message: bytes) -> None:
        for listener in self._listeners:
            listener(kind, message)

    # -- WAN side ---------------------------------------------------------------------------
    async def send(self, command: bytes, *, timeout: float = 30.0) -> bytes:
        """Deliver a command; return the device's response (raises on refusal or timeout)."""
        try:
            msg = decode_message(command)
        except GbcsError as exc:
            raise HubError(f"not a GBCS message: {exc}") from exc
        self.counters.commands += 1
        self._notify("command", command)
        target = bytes(msg.recipient)
        hosted = self._hosted(target)
        if hosted is not None:
            outputs = hosted.receive(command)
            response = self._take_outputs(outputs, msg.originator, msg.counter)
            if response is None:
                self.counters.rejected += 1
                if any(out.message_code == ECS100 for out in outputs):
                    raise CommandNotSupported(f"{msg.recipient} does not support this command")
                last = (
                    list(hosted.security_log)[-1].detail
                    if len(hosted.security_log)
                    else "no response"
                )
                raise CommandRejected(last)
            return response
        if not self.chf.admits(msg.recipient):
            raise NotAdmitted(f"{msg.recipient} is not in the CHF Device Log")
        key = (bytes(msg.originator), msg.counter)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[key] = _Pending(future, target)
        started = self._elapsed()
        try:
            queue = self._sleepy.get(target)
            if queue is not None and not self._awake(target, queue):
                queue.waiting.append(command)
                self.counters.queued += 1
                self._notify("queued", command)
            else:
                await self._forward(target, command)
            # asyncio.timeout, not wait_for: 3.11's wait_for can lose a cancellation
            # that lands as the response does (emulator/tasks.py).
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise ResponseTimeout(f"no response from {msg.recipient} within {timeout} s") from None
        finally:
            self._pending.pop(key, None)
            self.han_seconds[key] = self._elapsed() - started
            if len(self.han_seconds) > 4096:  # readers pop theirs; never grow without bound
                self.han_seconds.pop(next(iter(self.han_seconds)))

    def distribute(
        self,
        target: Eui64,
        image: bytes,
        hardware_version: int | None = None,
        signed: bool = True,
        image_type: int | None = None,
    ) -> Outcome | None:
        """Take an OTA image for `target` (11.1): None when accepted and on its way.

        A refused image (not decodable, hardware mismatch) raises its CCS08 alert
        and nothing goes on the HAN. A sleepy target is offered it at its next wake-up.
        """
        if not self.chf.admits(target):
            raise NotAdmitted(f"{target} is not in the CHF Device Log")
        refused = self.ota.offer(
            target, image, hardware_version, signed=signed, image_type=image_type
        )
        key = bytes(Eui64(target))
        queue = self._sleepy.get(key)
        if refused is None and (queue is None or self._awake(key, queue)):
            self._tasks = [t for t in self._tasks if not t.done()]
            self._tasks.append(asyncio.get_running_loop().create_task(self.ota.notify(key)))
        return refused

    async def alerts(self) -> AsyncIterator[bytes]:
        while True:
            yield await self._alerts.get()

    async def next_alert(self, timeout: float | None = None) -> bytes:
        return await asyncio.wait_for(self._alerts.get(), timeout)

    # -- HAN side ----------------------------------------------------------------------------
    def _hosted(self, eui: bytes) -> Chf | Gpf | None:
        if eui == bytes(self.chf.eui):
            return self.chf
        if self.gpf is not None and eui == bytes(self.gpf.eui):
            return self.gpf
        return None

    async def _forward(self, target: bytes, command: bytes) -> None:
        await self._send_envelope(target, EnvelopeKind.GBCS, command)

    async def _send_envelope(self, target: bytes, kind: EnvelopeKind, payload: bytes) -> None:
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        link = self.routes.get(target, self.link)
        await link.send(Envelope(self.chf.eui, Eui64(target), kind, payload, self._sequence))

    async def _receive_loop(self, link: Link) -> None:
        with contextlib.suppress(LinkClosed):
            async for env in link:
                try:
                    await self._on_envelope(env, link)
                except LinkTimeout as exc:  # an answer not sent in time: the device retries
                    self._drop(
                        "send_timeout", f"answering {env.kind.name} from {env.source}: {exc}"
                    )

    async def _on_envelope(self, env: Envelope, via: Link | None = None) -> None:
        source = bytes(env.source)
        if env.kind == EnvelopeKind.JOIN:  # before admission: joining is how one gets in
            await self._on_join(env)
            return
        if not self.chf.admits(env.source):
            self._drop("unadmitted", f"{env.kind.name} envelope from {env.source}")
            return
        queue = self._sleepy.get(source)
        if (
            queue is not None
            and env.kind not in (EnvelopeKind.WAKE, EnvelopeKind.SLEEP)
            and (self._awake(source, queue) or queue.presumed)
        ):
            # still talking; or taken as asleep by its silence alone, never having said
            # SLEEP (a virtual clock that jumped mid-wake): it was awake all along. What
            # was queued meanwhile waits for the next WAKE: this wake-up may be ending.
            await self._heard(source, queue, drain=False)
        if env.kind == EnvelopeKind.WAKE:
            queue = self._sleepy[source]
            await self._heard(source, queue)  # a wake-up (after a restart too) resets the view
            await self.ota.notify(source)  # a pending image: resume where it stopped
        elif env.kind == EnvelopeKind.OTA_REQUEST:
            sleeping = queue is not None and not queue.awake
            if sleeping:
                self._drop("asleep", f"block request from sleeping {env.source}")
            else:
                await self.ota.on_request(source, env.payload)
        elif env.kind == EnvelopeKind.OTA_END:
            self.ota.on_end(source, env.payload)
        elif env.kind == EnvelopeKind.SLEEP:
            asleep = self._sleepy[source]
            asleep.awake, asleep.awake_until, asleep.presumed = False, None, False
        elif env.kind == EnvelopeKind.MIRROR:
            self._on_mirror(env)
        elif env.kind == EnvelopeKind.GBCS:
            self._on_message(env.payload)
        elif env.kind == EnvelopeKind.ZSE:
            await self._relay(env, via)
        else:
            self._drop("unexpected_envelope", f"{env.kind.name} envelope from {env.source}")

    async def _on_join(self, env: Envelope) -> None:
        answer: JoinAccept | JoinRefuse
        try:
            request = JoinRequest.decode(env.payload)
        except GbcsError as exc:
            log.warning("hub %s: malformed JOIN from %s: %s", self.chf.eui, env.source, exc)
            answer = self.chf.refuse_malformed(env.source)
        else:
            answer = self.chf.han_join(env.source, request, self.nonce(NONCE_SIZE))
        if isinstance(answer, JoinAccept):
            kind = EnvelopeKind.JOIN_ACCEPT
        else:
            kind = EnvelopeKind.JOIN_REFUSE
        await self._send_envelope(bytes(env.source), kind, answer.encode())

    async def _relay(self, env: Envelope, via: Link | None) -> None:
        """Carry a ZSE frame between two admitted devices on different links (the hub as
        the HAN's router); the hub itself serves no ZSE command."""
        target = bytes(env.destination)
        if self._hosted(target) is not None:
            self._drop("unexpected_envelope", f"ZSE envelope from {env.source} to the hub")
            return
        if not self.chf.admits(env.destination):
            self._drop("unadmitted", f"ZSE envelope from {env.source} to {env.destination}")
            return
        link = self.routes.get(target, self.link)
        if link is via:
            self._drop("unrouted", f"ZSE envelope from {env.source} for {env.destination}")
            return
        if self.refuse_zse(env.source, env.destination) is not None:
            return
        queue = self._sleepy.get(target)
        if queue is not None and not self._awake(target, queue):
            self._hold_zse(target, queue, env)
            return
        await self._send_zse(link, env)

    def _hold_zse(self, target: bytes, queue: SleepyQueue, env: Envelope) -> None:
        """Keep a ZSE frame for a sleeping device's next WAKE, as its GBCS commands are
        kept: sent now it would be lost (a sleeping radio hears nothing)."""
        now = self.clock.now()
        while queue.zse and (now - queue.zse[0][0]).total_seconds() > self.zse_hold:
            _, old = queue.zse.popleft()
            self._drop("zse_expired", f"ZSE frame from {old.source} for {old.destination}")
        if len(queue.zse) >= self.zse_hold_limit:
            self._drop(
                "zse_overflow",
                f"ZSE frame from {env.source}: {len(queue.zse)} already held for "
                f"sleeping {env.destination}",
            )
            return
        queue.zse.append((now, env))
        self.counters.zse_held += 1
        if self.on_zse_held is not None:
            self.on_zse_held(target)
        log.info(
            "hub %s: ZSE frame from %s held for sleeping %s",
            self.chf.eui,
            env.source,
            env.destination,
        )

    async def _send_zse(self, link: Link, env: Envelope) -> None:
        await link.bind(env.source)  # its answer comes back this way (once bound: a no-op)
        self.counters.relayed += 1
        await link.send(env)

    def _on_mirror(self, env: Envelope) -> None:
        if self.gpf is None:
            self._drop("no_gpf", f"mirror from {env.source}")
            return
        try:
            self.gpf.sync(json.loads(env.payload))
        except ValueError as exc:  # not JSON, or MirrorError
            self._drop("mirror", f"mirror from {env.source}: {exc}")

    def _drop(self, reason: str, detail: str) -> None:
        self.drops[reason] += 1
        log.warning("hub %s dropped %s: %s", self.chf.eui, reason, detail)

    def _on_message(self, raw: bytes) -> None:
        if is_gbt(raw):  # a message sent as GBT blocks: act on the joined whole
            try:
                joined = self._gbt.feed(raw)
            except GbcsError as exc:
                self._drop("undecodable", f"GBT block from the HAN: {exc}")
                return
            if joined is None:
                return
            raw = joined
        try:
            msg = decode_message(raw)
        except GbcsError as exc:
            self._drop("undecodable", f"{len(raw)} byte(s) from the HAN: {exc}")
            return
        if msg.cra == Cra.COMMAND:
            self._drop(
                "unexpected_command", f"command 0x{msg.message_code:04X} from {msg.originator}"
            )
            return
        if msg.cra == Cra.ALERT:
            if msg.message_code == ECS100:
                self._not_supported(msg)
            self._queue_alert(raw)
            return
        if msg.cra == Cra.RESPONSE:
            pending = self._pending.get((bytes(msg.recipient), msg.counter))
            if pending is None or pending.future.done():
                self._drop(
                    "unmatched_response",
                    f"{msg.originator} answered counter {msg.counter} of {msg.recipient}",
                )
                return
            self.counters.responses += 1
            self._notify("response", raw)
            pending.future.set_result(raw)

    def _not_supported(self, alert: GbcsMessage) -> None:
        """Fail the command an ECS100 alert refuses, instead of waiting for a response.

        DLMS devices name the command's counter in the alert; a GBZ device's alert
        does not, so it refuses the only command waiting for that device, if any.
        """
        device = bytes(alert.originator)
        waiting = [
            (key, p)
            for key, p in self._pending.items()
            if p.target == device and not p.future.done()
        ]
        try:
            command = named_command(alert)
        except GbcsError:
            command = None  # still an alert for the WAN side; the DCC counts it
        named = [(k, p) for k, p in waiting if command is not None and k[1] == command.counter]
        chosen = named or (waiting if len(waiting) == 1 else [])
        for _, pending in chosen[:1]:
            pending.future.set_exception(
                CommandNotSupported(f"{alert.originator} does not support this command (ECS100)")
            )

    def _take_outputs(
        self, outputs: list[Outbound], originator: Eui64, counter: int
    ) -> bytes | None:
        response = None
        for out in outputs:
            if out.kind == "response" and out.in_reply_to == counter:
                response = out.message
                self.counters.responses += 1
                self._notify("response", out.message)
            else:
                self._queue_alert(out.message)
        return response

    def _hosted_alert(self, out: Outbound) -> None:
        self._queue_alert(out.message)

    def _queue_alert(self, raw: bytes) -> None:
        if self.alert_filter is not None and not self.alert_filter(raw):
            return
        self.release_alert(raw)

    def release_alert(self, raw: bytes) -> None:
        """Queue an alert for the WAN side (what `alert_filter` held comes back here)."""
        self.counters.alerts += 1
        self._notify("alert", raw)
        self._alerts.put_nowait(raw)
