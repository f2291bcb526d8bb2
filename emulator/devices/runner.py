"""Putting a sans-IO device on a HAN link.

`DeviceRunner` receives envelopes addressed to the device, hands GBCS payloads
(GBT blocks joined first) to `Device.receive`, and sends what the device answers
back to the hub; alerts the device raises on its own (future-dated executions,
log changes) go out the same way. With a state file, the device's state is
written after every message (atomically: a temporary file renamed over the old
one), so a device killed at any moment restarts with its registers, logs and
replay counters. A state file that cannot be read back (not UTF-8 JSON, another
device's, a foreign document) is a `StateFileError` and is left as it is: a bad
start must not destroy it.

`serve` ends quietly when its owner closes the link and raises `LinkClosed`
when the transport goes away under it (broker gone, pty peer closed), so a
device process can exit with an error instead of looking like a clean stop.

A sleepy device (the GSME) is only reachable while awake: `wake()` announces it
to the hub (WAKE), takes what the hub queued, pushes its mirror to the GPF
(MIRROR) and goes back to sleep (SLEEP). `run()` wakes it on its own schedule.

A device that has not joined the HAN (`device.han.joined` false) joins first
(`join`: JOIN, then JOIN_ACCEPT or JOIN_REFUSE, retried as `JoinPolicy` says on
the device's clock) and sends no GBCS until it has: what it receives before is
counted in `unjoined_dropped`, alerts in `alerts_dropped`. Lab-provisioned
devices count as joined and serve at once.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import logging
import os
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.devices.base import Device, Outbound
from emulator.devices.logs import AUTHENTICATION_FAILURE
from emulator.errors import EmulatorError, GbcsError, LinkClosed, LinkTimeout
from emulator.gbcs.eui import Eui64
from emulator.gbcs.gbt import Reassembler, is_gbt
from emulator.gbcs.zcl.gbz import FC_TO_CLIENT
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.join import (
    EVENT_JOIN_REFUSED,
    EVENT_JOINED,
    NONCE_SIZE,
    REFUSAL_TEXT,
    JoinAccept,
    JoinKey,
    JoinPolicy,
    JoinRefuse,
    JoinRequest,
    Refusal,
    device_proof,
    hub_proof,
    install_code_key,
    key_hash,
    proofs_match,
    session_key,
)
from emulator.han.link import Link
from emulator.han.zse import ZseMessage, peek_header

log = logging.getLogger(__name__)

#: Seconds a device waits for a HAN peer's answer to a ZSE command.
ZSE_TIMEOUT = 5.0


class StateFileError(EmulatorError, ValueError):
    """A state file that cannot be read, restored or written; the message names it."""


class DeviceRunner:
    def __init__(
        self,
        device: Device,
        link: Link,
        hub: Eui64 | str,
        *,
        state_file: str | Path | None = None,
        gpf: Eui64 | str | None = None,
        join_policy: JoinPolicy | None = None,
    ) -> None:
        self.device = device
        self.link = link
        self.hub = Eui64(hub)
        self.gpf = Eui64(gpf) if gpf is not None else None
        self.state_file = Path(state_file) if state_file is not None else None
        self.sequence = 0
        self.handled = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._alerts: set[asyncio.Task[None]] = set()
        #: Alerts raised while nothing could send them, or whose send failed (also logged).
        self.alerts_dropped = 0
        self._gbt = Reassembler()
        #: GBT blocks that could not be joined (also logged).
        self.gbt_dropped = 0
        self.join_policy = join_policy or JoinPolicy()
        #: Where the device's join nonces come from (a test makes them repeatable).
        self.nonce: Callable[[int], bytes] = os.urandom
        #: Device-clock times of the last JOINs sent, and the last refusal's reason.
        self.join_attempts: deque[_dt.datetime] = deque(maxlen=100)
        self.last_refusal: Refusal | None = None
        #: Envelopes received before the device joined (dropped, logged).
        self.unjoined_dropped = 0
        self._use_link_key = True
        #: ZSE requests of this device waiting for their answer, by (peer, ZCL sequence).
        self._zse_waiting: dict[tuple[bytes, int], asyncio.Future[ZseMessage | None]] = {}
        #: ZSE frames refused or unanswered, by reason (also logged; a meter's refusals
        #: are in its security log too: emulator/devices/han_consumer.py).
        self.zse_refused: Counter[str] = Counter()
        device.on_alert = self._alert

    # -- persistence --------------------------------------------------------------------
    def save(self) -> None:
        if self.state_file is None:
            return
        try:
            save_state(self.device, self.state_file)
        except OSError as exc:
            raise StateFileError(
                f"cannot save state to {self.state_file}: {exc.strerror or exc}"
            ) from exc

    # -- message handling ---------------------------------------------------------------
    async def handle(self, env: Envelope) -> None:
        if env.kind in (EnvelopeKind.OTA_NOTIFY, EnvelopeKind.OTA_BLOCK):
            await self._firmware(env)
            return
        if env.kind == EnvelopeKind.ZSE:
            await self._zse(env)
            return
        if env.kind != EnvelopeKind.GBCS:
            return
        if not self.device.han.joined:
            self.unjoined_dropped += 1
            log.warning("%s: GBCS envelope dropped, not joined to the HAN", self.device)
            return
        payload = env.payload
        if is_gbt(payload):  # a message sent as GBT blocks: act on the joined whole
            try:
                joined = self._gbt.feed(payload)
            except GbcsError as exc:
                self.gbt_dropped += 1
                log.warning("%s: GBT block dropped: %s", self.device, exc)
                return
            if joined is None:
                return
            payload = joined
        outputs = self.device.receive(payload)
        self.handled += 1
        self.save()
        for out in outputs:
            await self._send(EnvelopeKind.GBCS, out.message)

    # -- ZSE frames between HAN devices (emulator/devices/han_consumer.py) ---------------
    async def _zse(self, env: Envelope) -> None:
        """An answer to a request of ours goes to its waiter; a command goes to the device
        (a meter serves it); anything else is refused, counted and logged."""
        if not self.device.han.joined:
            self.unjoined_dropped += 1
            log.warning("%s: ZSE envelope dropped, not joined to the HAN", self.device)
            return
        header = peek_header(env.payload)
        if header is not None and header.frame_control & FC_TO_CLIENT:
            waiting = self._zse_waiting.get((bytes(env.source), header.sequence))
            if waiting is not None and not waiting.done():
                try:
                    waiting.set_result(ZseMessage.decode(env.payload))
                except GbcsError as exc:
                    self.zse_refused["garbled_answer"] += 1
                    log.warning("%s: garbled ZSE answer from %s: %s", self.device, env.source, exc)
                    waiting.set_result(None)
                return
        serve = getattr(self.device, "serve_zse", None)
        if serve is None:
            self.zse_refused["not_served"] += 1
            log.warning("%s: ZSE frame from %s not served here", self.device, env.source)
            return
        answer = serve(env.source, env.payload)
        self.save()
        if answer.refused is not None:
            self.zse_refused[answer.refused] += 1
            log.warning(
                "%s: ZSE frame from %s refused: %s", self.device, env.source, answer.refused
            )
        if answer.reply is not None:
            await self._send(EnvelopeKind.ZSE, answer.reply.encode(), env.source)

    async def zse_request(
        self, destination: Eui64, message: ZseMessage, timeout: float = ZSE_TIMEOUT
    ) -> ZseMessage | None:
        """Send a ZSE command to a HAN peer and wait for its answer (None: none in time;
        the serve loop must be running, it is what receives the answer)."""
        key = (bytes(destination), message.frame.sequence)
        future: asyncio.Future[ZseMessage | None] = asyncio.get_running_loop().create_future()
        self._zse_waiting[key] = future
        try:
            await self._send(EnvelopeKind.ZSE, message.encode(), destination)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self.zse_refused["no_answer"] += 1
            log.warning("%s: no ZSE answer from %s within %g s", self.device, destination, timeout)
            return None
        except asyncio.CancelledError:  # its caller stopped waiting (a virtual-time bound)
            self.zse_refused["no_answer"] += 1
            log.warning("%s: no ZSE answer from %s: gave up waiting", self.device, destination)
            raise
        finally:
            self._zse_waiting.pop(key, None)

    async def _firmware(self, env: Envelope) -> None:
        """Feed the block-transfer state machine; a received block is saved at once."""
        download = self.device.ota_download
        if env.kind == EnvelopeKind.OTA_NOTIFY:
            replies = download.on_notify(env.payload)
        else:
            replies = download.on_block(self.device, env.payload)
            self.save()
        for kind, payload in replies:
            await self._send(kind, payload)
        if download.completed:
            download.completed = False
            self.device.image_received()
            self.save()

    async def _send(
        self, kind: EnvelopeKind, payload: bytes = b"", destination: Eui64 | None = None
    ) -> None:
        self.sequence = (self.sequence + 1) & 0xFFFFFFFF
        await self.link.send(
            Envelope(self.device.eui, destination or self.hub, kind, payload, self.sequence)
        )

    def _alert(self, out: Outbound) -> None:
        """Alerts raised outside a command (timers): send them when the loop can."""
        loop = self._loop
        if not self.device.han.joined:
            self.alerts_dropped += 1
            log.warning("%s: alert dropped, not joined to the HAN", self.device)
        elif loop is not None and loop.is_running():
            task = loop.create_task(self._send(EnvelopeKind.GBCS, out.message))
            self._alerts.add(task)
            task.add_done_callback(self._alert_sent)
        else:
            self.alerts_dropped += 1
            log.warning("%s: alert dropped, not serving yet", self.device)

    def _alert_sent(self, task: asyncio.Task[None]) -> None:
        self._alerts.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.alerts_dropped += 1
            log.warning("%s: alert not sent: %s", self.device, task.exception())

    async def serve(self) -> None:
        """Handle envelopes until the link is closed (an always-listening device).

        Returns when the link's owner closed it; raises `LinkClosed` when the
        transport was lost while the link was still open.
        """
        self._loop = asyncio.get_running_loop()
        await self.link.bind(self.device.eui)
        if not self.device.han.joined:
            await self.join()
        while True:
            try:
                env = await self.link.recv()
            except LinkClosed:
                if self.link.closed:
                    return
                raise
            await self.handle(env)

    # -- joining the HAN --------------------------------------------------------------
    async def join(self) -> None:
        """Join the HAN, retrying as `join_policy` says until the hub accepts."""
        self._loop = asyncio.get_running_loop()
        await self.link.bind(self.device.eui)
        failed = 0
        while not await self.join_once():
            failed += 1
            pause = self.join_policy.wait_after(failed)
            if failed >= self.join_policy.attempts:
                log.warning("%s: %d JOINs failed, next round in %g s", self.device, failed, pause)
                failed = 0
            await self._clock_wait(pause)

    async def _clock_wait(self, seconds: float) -> None:
        """Wait `seconds` of the device's clock: on a virtual clock, until it is moved.

        (`Clock.sleep` of a virtual clock moves time itself, for single-task
        simulations; a joining device must wait for the lab's time instead.)
        """
        clock = self.device.clock
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        timer = clock.call_at(clock.now() + _dt.timedelta(seconds=seconds), wake)
        try:
            await done
        finally:
            timer.cancel()

    async def join_once(self) -> bool:
        """One JOIN and its answer; True when the hub accepted and the key is established.

        A hub whose log was restored (CCS03) holds only the hash of the device's
        link key and refuses a JOIN with the key itself (KEY_HASH_ONLY); the device
        then proves the hash at once, in a second JOIN.
        """
        han = self.device.han
        key_type = JoinKey.LINK_KEY if han.link_key and self._use_link_key else JoinKey.INSTALL_CODE
        return await self._join_with(key_type)

    async def _join_with(self, key_type: JoinKey) -> bool:
        han = self.device.han
        if key_type == JoinKey.LINK_KEY:
            key = han.link_key
        elif key_type == JoinKey.KEY_HASH:
            key = key_hash(han.link_key)
        else:
            key = install_code_key(han.install_code)
        nonce = self.nonce(NONCE_SIZE)
        proof = device_proof(key, self.device.eui, self.hub, key_type, nonce)
        han.attempts += 1
        self.join_attempts.append(self.device.clock.now())
        try:
            await self._send(EnvelopeKind.JOIN, JoinRequest(key_type, nonce, proof).encode())
        except LinkTimeout as exc:  # a congested link: this attempt failed, retry later
            log.warning("%s: JOIN not sent: %s", self.device, exc)
            self.save()
            return False
        answer = await self._join_answer(nonce)
        now = self.device.clock.now()
        if isinstance(answer, JoinAccept):
            expected = hub_proof(key, self.hub, self.device.eui, key_type, nonce, answer.hub_nonce)
            if proofs_match(answer.proof, expected):
                if key_type != JoinKey.LINK_KEY:
                    key = session_key(key, nonce, answer.hub_nonce)
                han.link_key, han.joined, han.attempts = key, True, 0
                han.last_refusal = ""
                han.source = key_type.name.lower()
                self.last_refusal = None
                self.device.event_log.record(now, EVENT_JOINED, f"joined {self.hub}")
                log.info("%s joined the HAN of %s (%s)", self.device, self.hub, key_type.name)
                self.save()
                return True
            self.device.security_log.record(
                now, AUTHENTICATION_FAILURE, f"JOIN_ACCEPT from {self.hub} not authentic"
            )
            log.warning("%s: JOIN_ACCEPT from %s not authentic", self.device, self.hub)
        elif isinstance(answer, JoinRefuse):
            han.refusals += 1
            han.last_refusal = answer.reason.name.lower()
            self.last_refusal = answer.reason
            text = f"HAN join refused by {self.hub}: {REFUSAL_TEXT[answer.reason]}"
            self.device.security_log.record(now, EVENT_JOIN_REFUSED, text)
            log.warning("%s: %s", self.device, text)
            if answer.reason == Refusal.KEY_HASH_ONLY and key_type == JoinKey.LINK_KEY:
                self.save()
                return await self._join_with(JoinKey.KEY_HASH)
            if answer.reason in (Refusal.BAD_PROOF, Refusal.KEY_NOT_ALLOWED):
                self._use_link_key = not self._use_link_key  # try the other key next
        else:
            log.warning("%s: no answer to JOIN from %s", self.device, self.hub)
        self.save()
        return False

    async def _join_answer(self, nonce: bytes) -> JoinAccept | JoinRefuse | None:
        """The answer to the JOIN with `nonce`, or None after the reply timeout."""
        timer = asyncio.ensure_future(self._reply_wait())
        try:
            while True:
                receiving = asyncio.ensure_future(self.link.recv())
                await asyncio.wait({receiving, timer}, return_when=asyncio.FIRST_COMPLETED)
                if not receiving.done():
                    receiving.cancel()
                    await asyncio.wait({receiving})
                    return None
                env = receiving.result()
                answer = self._join_reply(env)
                if answer is not None and answer.device_nonce == nonce:
                    return answer
                self.unjoined_dropped += 1
                log.warning("%s: %s envelope dropped while joining", self.device, env.kind.name)
        finally:
            timer.cancel()
            await asyncio.wait({timer})

    async def _reply_wait(self) -> None:
        """The reply timeout on the device's clock, and at least the real-time floor."""
        await asyncio.gather(
            self._clock_wait(self.join_policy.reply_timeout),
            asyncio.sleep(self.join_policy.reply_floor),
        )

    def _join_reply(self, env: Envelope) -> JoinAccept | JoinRefuse | None:
        try:
            if env.kind == EnvelopeKind.JOIN_ACCEPT:
                return JoinAccept.decode(env.payload)
            if env.kind == EnvelopeKind.JOIN_REFUSE:
                return JoinRefuse.decode(env.payload)
        except GbcsError as exc:
            log.warning("%s: bad %s: %s", self.device, env.kind.name, exc)
        return None

    # -- sleepy devices ------------------------------------------------------------------
    async def wake(self, listen: float = 0.5) -> int:
        """One wake-up: announce, take queued commands, push the mirror, sleep again.

        A sleepy device that has not joined makes one JOIN attempt per wake-up
        and, refused, goes back to sleep without a word more.
        """
        self._loop = asyncio.get_running_loop()
        await self.link.bind(self.device.eui)
        if not self.device.han.joined and not await self.join_once():
            return 0  # one attempt per wake-up: it tries again at its next one
        self.device.ota_download.wake()
        await self._send(EnvelopeKind.WAKE)
        handled = 0
        while True:
            try:
                env = await self.link.recv(timeout=listen)
            except LinkTimeout:
                break
            if env.kind == EnvelopeKind.SLEEP:
                break
            await self.handle(env)
            handled += 1
        mirror = getattr(self.device, "mirror", None)
        if mirror is not None and self.gpf is not None:
            payload = json.dumps(mirror()).encode()
            await self._send(EnvelopeKind.MIRROR, payload, self.gpf)
        await self._send(EnvelopeKind.SLEEP)
        self.save()
        return handled

    async def run_sleepy(self, listen: float = 0.5) -> None:
        """Wake on the device's schedule of its clock, forever.

        On a virtual clock it waits for whoever moves that clock (a board console's
        ``clock``, as a lab's set_clock hook does): a board process that moved its own
        clock would run ahead of the lab and refuse the lab's next time as the past.
        """
        next_wake = getattr(self.device, "next_wake", None)
        if next_wake is None:
            raise TypeError(f"{self.device} has no wake schedule")
        while True:
            now = self.device.clock.now()
            due = next_wake(now)
            await self._clock_wait(max(0.0, (due - now).total_seconds()))
            await self.wake(listen)


def save_state(device: Device, path: Path) -> None:
    data = json.dumps(device.to_state(), separators=(",", ":"))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_state(path: Path) -> dict[str, Any]:
    """The JSON document of a state file; `StateFileError` unless it is one device's state."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StateFileError(f"cannot read state file {path}: {exc.strerror or exc}") from exc
    if not raw.strip():
        raise StateFileError(f"state file {path} is empty")
    try:
        loaded = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise StateFileError(f"state file {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise StateFileError(f"state file {path} is not JSON: {exc}") from None
    if not isinstance(loaded, dict) or not {"type", "eui"} <= loaded.keys():
        raise StateFileError(f"state file {path} is not a device state (no type and eui)")
    return loaded


def restore_state(device: Device, path: Path) -> None:
    """Load a state file into `device`; any mismatch or damage is a `StateFileError`."""
    state = load_state(path)
    try:
        device.load_state(state)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, EmulatorError) as exc:
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise StateFileError(f"state file {path} cannot be restored: {what}") from exc


def check_state_path(path: Path) -> None:
    """Fail before any I/O on the link if the state could never be saved at `path`."""
    folder = path.parent
    if path.exists() and not path.is_file():
        raise StateFileError(f"state file {path} is not a regular file")
    if not folder.is_dir():
        raise StateFileError(f"state file {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise StateFileError(f"state file {path} is not writable")
