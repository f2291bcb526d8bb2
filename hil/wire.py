"""`smets-hil wire check`: exercise a device shim on a port and name what it does wrong.

The checker stands where the hub stands. It sends the device real commands (a
supplier read, built from the lab PKI seed the device trusts) and a few
deliberately bad inputs, listens promiscuously, and turns everything it sees
into findings, each with a fixed name a firmware engineer can look up in
docs/wire-protocol.md ("Checking a shim"):

    reply             a read was answered with a GBCS response
    no-reply          nothing usable came back within the timeout
    slow-reply        the response came, but later than --reply-within
    bad-crc           a frame failed its CRC-16/CCITT-FALSE
    bad-framing       a frame was aborted (7D 7E) or longer than any envelope
    bad-length        an envelope's length field does not match its bytes
    bad-version       an envelope with a version other than 1
    unknown-kind      an envelope kind that is not in the table
    wrong-kind        a known kind where a GBCS response belongs
    wrong-address     source is not the device, or destination not the hub
    bad-ack           an ACK for a sequence that was not sent
    not-a-response    a GBCS payload that does not decode, or answers another command
    nack              the device NACKed a good command (its reason is shown)
    back-to-back      two commands sent without a pause are both answered
    resync            after line noise the next frame is still understood
    version           an envelope of version 2 is not acted on
    nack-garbage      an envelope whose payload is not GBCS is NACKed (advice)
    join              an unjoined device's JOIN (section 9) was well-formed, its proof
                      held for the install code, and after the checker's JOIN_ACCEPT
                      it answered the read (skip: no JOIN came, a joined device
                      does not join; warn: proof not checked, no install code given)
    join-malformed    the JOIN payload is not 33 bytes with a known key type
    join-proof        the JOIN's proof does not hold for the install code given
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

from emulator.errors import EmulatorError, GbcsDecodeError, GbcsError, LinkError, LinkTimeout
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.link import Link, open_link
from emulator.han.serial import SerialLink
from hil.errors import HilError

DEFAULT_HUB: Final = "00-DB-12-34-56-78-90-A2"

#: Line noise for the resync check: no flag in it, so the device must drop it
#: as one bad frame at the next flag and read the frame after it intact.
NOISE: Final = bytes(range(0x80, 0xC0))

#: Seconds after JOIN_ACCEPT before the first command (the device derives its key).
JOIN_SETTLE: Final = 0.2

Outcome = Literal["pass", "fail", "warn", "skip"]


class WireCheckError(HilError):
    """The check could not run at all (the port does not open, bad options)."""


@dataclass(slots=True)
class Finding:
    name: str
    outcome: Outcome
    detail: str

    def line(self) -> str:
        return f"{self.outcome.upper():4} {self.name}: {self.detail}"


@dataclass
class _Seen:
    """What came back after one stimulus."""

    envelopes: list[tuple[float, Envelope]] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)


class WireChecker:
    """One device on one link; `run` returns the findings in the order they were made."""

    def __init__(
        self,
        link: Link,
        device: Eui64,
        hub: Eui64,
        command: Callable[[], bytes],
        *,
        reply_within: float = 2.0,
        timeout: float = 5.0,
        install_code: bytes | None = None,
        join_wait: float = 0.0,
    ) -> None:
        self.install_code = install_code
        self.join_wait = join_wait
        self.link = link
        self.device = device
        self.hub = hub
        self.command = command
        self.reply_within = reply_within
        self.timeout = timeout
        self.findings: list[Finding] = []
        self._errors: list[Exception] = []
        self._sequence = 0
        link.on_error = lambda exc, raw: self._errors.append(exc)

    def _add(self, name: str, outcome: Outcome, detail: str) -> None:
        # One finding per name: the first says it, later ones of the same name add nothing.
        if not any(f.name == name and f.outcome == outcome for f in self.findings):
            self.findings.append(Finding(name, outcome, detail))

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    async def run(self) -> list[Finding]:
        joining = await self._check_join()
        await self._check_read()
        if joining is not None and self._outcome("reply") == "pass":
            self._add("join", *joining)
        elif joining is not None:
            self._add("join", "fail", "accepted, but the read after it got no proper answer")
        await self._check_back_to_back()
        await self._check_resync()
        await self._check_version()
        await self._check_garbage()
        return self.findings

    def _outcome(self, name: str) -> Outcome | None:
        return next((f.outcome for f in self.findings if f.name == name), None)

    async def _check_join(self) -> tuple[Outcome, str] | None:
        """An unjoined device sends JOIN first (power-up): check it, and accept it.

        Returns the join finding to make once the read after it was answered, or
        None when the join was judged already (skipped or failed).
        """
        from emulator.han.join import (
            JoinAccept,
            JoinRequest,
            device_proof,
            hub_proof,
            install_code_key,
            proofs_match,
        )

        join = None
        deadline = time.perf_counter() + self.join_wait
        while join is None and (left := deadline - time.perf_counter()) > 0:
            try:
                got = await self.link.recv(timeout=left)
            except LinkTimeout:
                break
            if got.kind == EnvelopeKind.JOIN and got.source == self.device:
                join = got
        if join is None:
            self._add(
                "join",
                "skip",
                f"no JOIN within {self.join_wait:g} s (a joined device does not join; "
                "start it unjoined, with --join-wait)",
            )
            return None
        try:
            request = JoinRequest.decode(join.payload)
        except GbcsError as exc:
            self._add("join-malformed", "fail", f"JOIN payload: {exc}")
            return None
        if self.install_code is None:
            return ("warn", "JOIN well-formed; proof not checked (give --install-code)")
        key = install_code_key(self.install_code)
        want = device_proof(key, self.device, self.hub, request.key_type, request.nonce)
        if not proofs_match(request.proof, want):
            self._add("join-proof", "fail", f"{request.key_type.name} proof does not hold")
            return None
        hub_nonce = os.urandom(16)
        proof = hub_proof(key, self.hub, self.device, request.key_type, request.nonce, hub_nonce)
        answer = JoinAccept(request.nonce, hub_nonce, proof).encode()
        await self.link.send(
            Envelope(self.hub, self.device, EnvelopeKind.JOIN_ACCEPT, answer, self._next())
        )
        await asyncio.sleep(JOIN_SETTLE)  # the device derives its link key, then serves
        return ("pass", "JOIN well-formed, proof holds, the read after JOIN_ACCEPT answered")

    # -- stimuli --------------------------------------------------------------------------------

    async def _exchange(self, env: Envelope | None, *, prefix: bytes = b"") -> _Seen:
        """Send (optionally after raw noise), then collect until a GBCS arrives or time is up."""
        seen = _Seen()
        start = len(self._errors)
        if prefix:
            if not isinstance(self.link, SerialLink):
                raise WireCheckError("raw bytes need a serial link")
            await self.link.write_bytes(prefix)
        if env is not None:
            await self.link.send(env)
        t0 = time.perf_counter()
        deadline = t0 + self.timeout
        while (left := deadline - time.perf_counter()) > 0:
            try:
                got = await self.link.recv(timeout=left)
            except LinkTimeout:
                break
            seen.envelopes.append((time.perf_counter() - t0, got))
            if got.kind == EnvelopeKind.GBCS:
                break
        seen.errors = self._errors[start:]
        return seen

    def _read(self) -> tuple[Envelope, int]:
        raw = self.command()
        counter = _counter(raw)
        env = Envelope(self.hub, self.device, EnvelopeKind.GBCS, raw, self._next())
        return env, counter

    async def _check_read(self) -> None:
        env, counter = self._read()
        seen = await self._exchange(env)
        self._classify_errors(seen.errors)
        answered = self._judge(seen, env, counter)
        if answered is None:
            self._add("no-reply", "fail", f"no GBCS response within {self.timeout:g} s")
        elif answered > self.reply_within:
            self._add(
                "slow-reply", "fail", f"answered in {answered:.2f} s, limit {self.reply_within:g} s"
            )
        else:
            self._add("reply", "pass", f"GBCS response in {answered:.2f} s")

    async def _check_back_to_back(self) -> None:
        """Two commands with no pause between them: the hub does that, there is no flow control."""
        sent = [self._read() for _ in range(2)]
        start = len(self._errors)
        for env, _ in sent:
            await self.link.send(env)
        wanted = {counter for _, counter in sent}
        answered: set[int] = set()
        deadline = time.perf_counter() + self.timeout
        while answered != wanted and (left := deadline - time.perf_counter()) > 0:
            try:
                got = await self.link.recv(timeout=left)
            except LinkTimeout:
                break
            if got.kind == EnvelopeKind.GBCS and got.source == self.device:
                with contextlib.suppress(GbcsError):
                    answered.add(_decoded_counter(got.payload))
        self._classify_errors(self._errors[start:])
        if answered >= wanted:
            self._add("back-to-back", "pass", "answered two commands sent back to back")
        else:
            self._add(
                "back-to-back",
                "fail",
                f"answered {len(answered & wanted)} of 2 commands sent back to back",
            )

    async def _check_resync(self) -> None:
        if not isinstance(self.link, SerialLink):
            self._add("resync", "skip", "not a serial link")
            return
        env, counter = self._read()
        seen = await self._exchange(env, prefix=b"\x7e" + NOISE)
        self._classify_errors(seen.errors)
        answered = self._judge(seen, env, counter)
        if answered is None:
            self._add("resync", "fail", "no answer to the frame that followed line noise")
        else:
            self._add("resync", "pass", "answered the frame after line noise")

    async def _check_version(self) -> None:
        env, _ = self._read()
        raw = bytearray(env.encode())
        raw[0] = 2
        seen = _Seen()
        start = len(self._errors)
        await self.link.send_raw(bytes(raw))
        try:
            got = await self.link.recv(timeout=min(self.timeout, max(self.reply_within, 0.5)))
            seen.envelopes.append((0.0, got))
        except LinkTimeout:
            pass
        seen.errors = self._errors[start:]
        self._classify_errors(seen.errors)
        if any(e.kind == EnvelopeKind.GBCS for _, e in seen.envelopes):
            self._add("version", "fail", "acted on an envelope of version 2 (only 1 exists)")
        else:
            self._add("version", "pass", "did not act on an envelope of version 2")

    async def _check_garbage(self) -> None:
        env = Envelope(self.hub, self.device, EnvelopeKind.GBCS, b"not GBCS", self._next())
        seen = await self._exchange_short(env)
        self._classify_errors(seen.errors)
        nacks = [e for _, e in seen.envelopes if e.kind == EnvelopeKind.NACK]
        if nacks:
            ok = nacks[0].sequence == env.sequence
            reason = nacks[0].payload.decode("utf-8", "replace")
            self._add(
                "nack-garbage",
                "pass" if ok else "fail",
                f"NACK {reason!r}" + ("" if ok else f" for sequence {nacks[0].sequence}"),
            )
        else:
            self._add("nack-garbage", "warn", "a payload that is not GBCS got no NACK")

    async def _exchange_short(self, env: Envelope) -> _Seen:
        seen = _Seen()
        start = len(self._errors)
        await self.link.send(env)
        t0 = time.perf_counter()
        try:
            got = await self.link.recv(timeout=min(self.timeout, max(self.reply_within, 0.5)))
            seen.envelopes.append((time.perf_counter() - t0, got))
        except LinkTimeout:
            pass
        seen.errors = self._errors[start:]
        return seen

    # -- judging --------------------------------------------------------------------------------

    def _judge(self, seen: _Seen, sent: Envelope, counter: int) -> float | None:
        """Seconds to a proper GBCS response (None: none), with findings for what was wrong."""
        answered: float | None = None
        for at, env in seen.envelopes:
            if env.source != self.device or env.destination != self.hub:
                self._add(
                    "wrong-address",
                    "fail",
                    f"{env.kind.name} from {env.source} to {env.destination}, "
                    f"expected from {self.device} to {self.hub}",
                )
                continue
            if env.kind == EnvelopeKind.ACK:
                if env.sequence != sent.sequence:
                    self._add("bad-ack", "fail", f"ACK {env.sequence}, sent {sent.sequence}")
            elif env.kind == EnvelopeKind.NACK:
                reason = env.payload.decode("utf-8", "replace")
                self._add("nack", "fail", f"NACK to a good command: {reason!r}")
            elif env.kind == EnvelopeKind.GBCS:
                problem = _response_problem(env.payload, counter)
                if problem is not None:
                    self._add("not-a-response", "fail", problem)
                elif answered is None:
                    answered = at
            else:
                self._add("wrong-kind", "fail", f"{env.kind.name} envelope where GBCS belongs")
        return answered

    def _classify_errors(self, errors: list[Exception]) -> None:
        for exc in errors:
            text = str(exc)
            if isinstance(exc, GbcsDecodeError):
                field_ = str(getattr(exc, "field", ""))
                if "version" in field_ or "version" in text:
                    self._add("bad-version", "fail", text)
                elif "kind" in field_ or "unknown kind" in text:
                    self._add("unknown-kind", "fail", text)
                else:
                    self._add("bad-length", "fail", f"envelope {text}")
            elif "(crc)" in text:
                self._add("bad-crc", "fail", "a frame failed its CRC-16/CCITT-FALSE")
            elif "(aborted)" in text or "(oversize)" in text:
                self._add("bad-framing", "fail", text)
            else:
                self._add("bad-framing", "fail", text)


def _counter(raw: bytes) -> int:
    from emulator.gbcs.frame import decode_message

    return decode_message(raw).counter


def _decoded_counter(payload: bytes) -> int:
    from emulator.gbcs.frame import decode_message

    return decode_message(payload).counter


def _response_problem(payload: bytes, counter: int) -> str | None:
    from emulator.gbcs.frame import decode_message

    try:
        message = decode_message(payload)
    except GbcsError as exc:
        return f"GBCS payload does not decode: {exc}"
    if message.counter != counter:
        return f"answers counter {message.counter}, the command had {counter}"
    return None


def read_command(seed: str, device: Eui64) -> Callable[[], bytes]:
    """A supplier read (4.1.1) for `device`, numbered from the wall clock so reruns are fresh.

    As `smets-hil send` and a lab with a device under test number theirs
    (`external_counter_offset`, docs/hardware.md): from a count of its own (it was
    microseconds) the device's replay counter for the supplier ran far ahead, and
    it refused every later `smets-hil send` as a replay.
    """
    from emulator.clock import RealClock
    from emulator.devices.anchors import AnchorRole
    from emulator.gbcs.security import MessageSecurity
    from emulator.premises import lab_pki
    from hil.dcc.commands import Sender
    from hil.dcc.lab import external_counter_offset

    pki, parties = lab_pki(seed)
    pki.device(device, "esme")  # its certificates, as the seed makes them (keys derive from it)
    supplier = parties[AnchorRole.SUPPLIER].eui
    security = MessageSecurity(pki.keystore, parties[AnchorRole.ACCESS_CONTROL_BROKER].eui)
    now = RealClock().now()
    first = external_counter_offset(now, now) + int(now.timestamp() * 1000)
    sender = Sender(supplier, security, first_counter=first)

    def build() -> bytes:
        return sender.command("4.1.1", device).encode()

    return build


async def check_device(
    url: str,
    device: str,
    *,
    hub: str = DEFAULT_HUB,
    seed: str = "smets-hil-lab",
    reply_within: float = 2.0,
    timeout: float = 5.0,
    install_code: bytes | None = None,
    join_wait: float = 0.0,
) -> list[Finding]:
    """Open `url` as the hub would and check the device on it; raises only if it cannot start.

    With `join_wait` the checker first waits that long for the device's JOIN (one
    started unjoined), checks it against `install_code` and accepts it.
    """
    try:
        target, hub_eui = Eui64(device), Eui64(hub)
    except (EmulatorError, ValueError) as exc:
        raise WireCheckError(f"not an EUI-64: {exc}") from None
    link = open_link(url)  # promiscuous: every envelope is seen, misaddressed ones too
    try:
        await link.open()
    except (LinkError, OSError) as exc:
        raise WireCheckError(str(exc)) from None
    try:
        checker = WireChecker(
            link,
            target,
            hub_eui,
            read_command(seed, target),
            reply_within=reply_within,
            timeout=timeout,
            install_code=install_code,
            join_wait=join_wait,
        )
        return await checker.run()
    finally:
        await link.close()


def failed(findings: list[Finding]) -> bool:
    return any(f.outcome == "fail" for f in findings)


#: Every finding name the checker can report (docs/wire-protocol.md lists them).
FINDINGS: Final = (
    "reply",
    "no-reply",
    "slow-reply",
    "bad-crc",
    "bad-framing",
    "bad-length",
    "bad-version",
    "unknown-kind",
    "wrong-kind",
    "wrong-address",
    "bad-ack",
    "not-a-response",
    "nack",
    "back-to-back",
    "resync",
    "version",
    "nack-garbage",
    "join",
    "join-malformed",
    "join-proof",
)
