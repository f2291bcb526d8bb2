"""Record the commands of one premises and replay them as N premises with fresh identities.

A recording is JSON Lines: a header, then one line per command the hub carried::

    {"format": "smets-hil-recording/1", "devices": {"ESME": "00db...", "PPMID": ...}}
    {"t": 0.012, "command": "<hex>", "response": "<hex>" | null}

`record_premises` makes one from an emulated premises (the fleet's own seeded
traffic through a hub listener). What a replay sends to premises P, for each
recorded command in order (cycling when the recording is shorter than the run):

- the GBCS message code, payload and other-information of the recorded command;
- the recipient rewritten to P's device of the same type, and every 8-byte
  occurrence of a recorded device's EUI-64 in the payload (a join partner, an
  ESME named in a payload) rewritten to P's device of that type;
- a fresh originator counter from P's DCC side, then signed again when the
  recorded command was signed (critical) and MACed again, with the lab's keys:
  the recording must come from premises commanded by the lab's parties
  (`hil.premises.LAB_PARTIES`), whose keys every fleet premises trusts.

- every UTRN in the payload (20 ASCII digits with a valid check digit: the
  token of a 2.2 top-up, CS01a or CS01b) made again for P's device, with the
  recorded value and value class, the supplier's prepayment key and the next
  PTUT counter of P's DCC side for that device (`Sender.utrn_counters`, shared
  with the fleet's own top-ups): a recorded UTRN authenticates only for the
  recorded meter, and a fresh meter must credit the replayed one.

What is not rewritten: timestamps in payloads (as recorded).
A replayed request passes when its response's message code is the recorded
response's; the response content is not compared (readings differ per meter).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from emulator.devices.base import DeviceType
from emulator.errors import UtrnError
from emulator.gbcs import builder, utrn
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.gbcs.security import MessageSecurity
from emulator.han.memory import MemoryMedium
from emulator.pki.keystore import KeyUsage
from emulator.premises import lab_pki
from hil.errors import HilError
from hil.fleet.mix import Mix
from hil.fleet.traffic import FleetPremises, Outcome

FORMAT: Final = "smets-hil-recording/1"

#: A UTRN candidate in a payload: 20 ASCII digits, not part of a longer run.
_UTRN_DIGITS: Final = re.compile(rb"(?<![0-9])[0-9]{20}(?![0-9])")


class RecordingError(HilError, ValueError):
    """A recording file that cannot be read or replayed: `path:line: problem`."""


@dataclass(frozen=True)
class Recorded:
    t: float
    command: bytes
    response: bytes | None

    @property
    def expected_code(self) -> int | None:
        return None if self.response is None else decode_message(self.response).message_code


@dataclass(frozen=True)
class Recording:
    devices: dict[str, bytes]  # device type name -> EUI-64
    commands: list[Recorded]

    def to_lines(self) -> list[str]:
        head = {"format": FORMAT, "devices": {k: v.hex() for k, v in self.devices.items()}}
        lines = [json.dumps(head)]
        for c in self.commands:
            response = None if c.response is None else c.response.hex()
            lines.append(json.dumps({"t": c.t, "command": c.command.hex(), "response": response}))
        return lines

    def write(self, path: str | Path) -> None:
        Path(path).write_text("\n".join(self.to_lines()) + "\n")

    def to_dict(self) -> dict[str, Any]:
        """The form carried in a fleet run's config (workers replay from it)."""
        return {"lines": self.to_lines()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recording:
        return cls.parse(list(data["lines"]), "config.replay")

    @classmethod
    def read(cls, path: str | Path) -> Recording:
        """The recording in `path`; a binary or non-UTF-8 file names the line of its first bad byte.

        A recording is JSON lines, so the line is where to look (a file that is
        binary from its start, say an image given by mistake, is `path:1`).
        """
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
        zero = raw.find(b"\x00")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = exc.start if zero < 0 else min(zero, exc.start)
            raise RecordingError(f"{path}:{_line_of(raw, bad)}: {_not_text(raw, bad)}") from None
        if zero >= 0:
            raise RecordingError(f"{path}:{_line_of(raw, zero)}: {_not_text(raw, zero)}")
        return cls.parse(text.removeprefix("\ufeff").splitlines(), str(path))

    @classmethod
    def parse(cls, lines: list[str], where: str) -> Recording:
        if not lines:
            raise RecordingError(f"{where}:1: empty recording")
        try:
            head = json.loads(lines[0])
        except ValueError as exc:
            raise RecordingError(f"{where}:1: not JSON: {exc}") from None
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise RecordingError(f"{where}:1: not a recording (format must be {FORMAT!r})")
        try:
            devices = {str(k): bytes(Eui64(v)) for k, v in dict(head["devices"]).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordingError(f"{where}:1: devices: {exc}") from None
        commands = []
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                command = bytes.fromhex(entry["command"])
                response = None if entry["response"] is None else bytes.fromhex(entry["response"])
                decode_message(command)
                recorded = Recorded(float(entry["t"]), command, response)
                recorded.expected_code  # noqa: B018 (a response that does not decode fails here)
            except Exception as exc:
                raise RecordingError(f"{where}:{number}: not a recorded command: {exc}") from None
            commands.append(recorded)
        if not commands:
            raise RecordingError(f"{where}: no commands recorded")
        return cls(devices, commands)


def _line_of(raw: bytes, offset: int) -> int:
    return raw.count(b"\n", 0, offset) + 1


def _not_text(raw: bytes, offset: int) -> str:
    if raw[offset] == 0:
        return "a binary file, not a recording (NUL byte)"
    return f"not UTF-8 text (byte 0x{raw[offset]:02X}), not a recording"


def identities(premises: FleetPremises) -> dict[str, bytes]:
    """Device type name -> EUI-64 of a fleet premises (hub functions included)."""
    p = premises.premises
    out = {d.device_type.name: bytes(d.eui) for d in p.devices.values()}
    out[DeviceType.CHF.name] = bytes(p.chf.eui)
    out[DeviceType.GPF.name] = bytes(p.gpf.eui)
    return out


def retarget(
    recorded: bytes,
    mapping: dict[bytes, bytes],
    counter: int,
    security: MessageSecurity,
    utrn_counters: MutableMapping[bytes, int] | None = None,
) -> bytes:
    """The recorded command for other devices: EUIs rewritten, renumbered, signed, MACed.

    With `utrn_counters` (device EUI -> last PTUT counter step used for it), UTRNs
    in the payload are made again for the new recipient (`renew_utrns`).
    """
    msg = decode_message(recorded)
    payload = msg.payload
    for old, new in mapping.items():
        payload = payload.replace(old, new)
    recipient = mapping.get(bytes(msg.recipient), bytes(msg.recipient))
    if utrn_counters is not None:
        payload = renew_utrns(payload, msg.originator, Eui64(recipient), security, utrn_counters)
    fresh = builder.command(
        msg.message_code, counter, msg.originator, Eui64(recipient), payload, other=msg.header.other
    )
    return builder.protect(fresh, security, critical=msg.is_signed).encode()


def renew_utrns(
    payload: bytes,
    supplier: Eui64,
    device: Eui64,
    security: MessageSecurity,
    utrn_counters: MutableMapping[bytes, int],
) -> bytes:
    """`payload` with each UTRN in it replaced by one `device` accepts.

    Same value and value class; the PTUT counter is the next step for `device`
    (as `hil.dcc.commands` counts them: step << 32, so the ten transmitted
    counter bits advance by one). Digit runs that are not UTRNs stay as they are.
    """

    def fresh(match: re.Match[bytes]) -> bytes:
        try:
            parsed = utrn.parse_utrn(match.group().decode("ascii"))
        except UtrnError:
            return match.group()
        z = security.shared_secret(
            supplier, device, KeyUsage.PREPAYMENT_KEY_AGREEMENT, KeyUsage.KEY_AGREEMENT
        )
        step = utrn_counters.get(bytes(device), 0) + 1
        token = utrn.generate_utrn(
            z, supplier, device, step << 32, parsed.value, parsed.value_class
        )
        utrn_counters[bytes(device)] = step
        return token.encode("ascii")

    return _UTRN_DIGITS.sub(fresh, payload)


async def record_premises(mix: Mix, seed: str, requests: int, index: int = 0) -> Recording:
    """Send `requests` of the mix to one emulated premises and record what the hub carried."""
    premises = FleetPremises.build(index, seed, mix, lab_pki())
    commands: list[Recorded] = []
    pending: dict[tuple[bytes, int], int] = {}
    began = time.perf_counter()

    def listen(kind: str, message: bytes) -> None:
        msg = decode_message(message)
        if kind == "command":
            pending[(bytes(msg.originator), msg.counter)] = len(commands)
            commands.append(Recorded(round(time.perf_counter() - began, 4), message, None))
        elif kind == "response":
            at = pending.pop((bytes(msg.recipient), msg.counter), None)
            if at is not None:
                commands[at] = Recorded(commands[at].t, commands[at].command, message)

    async with premises.premises:
        hub = await premises.premises.connect(MemoryMedium().url)
        hub.add_listener(listen)
        for _ in range(requests):
            await premises.request(hub, mix)
        await asyncio.sleep(0)
    return Recording(identities(premises), commands)


async def replay_one(premises: FleetPremises, hub: Any, recording: Recording, mix: Mix) -> Outcome:
    """Send premises its next recorded command, retargeted; one at a time per premises."""
    own = identities(premises)
    mapping = {old: own[kind] for kind, old in recording.devices.items() if kind in own}
    async with premises.lock:
        entry = recording.commands[premises.cursor % len(recording.commands)]
        premises.cursor += 1
        kind = f"replay 0x{decode_message(entry.command).message_code:04X}"

        async def attempt() -> str:
            raw = retarget(
                entry.command,
                mapping,
                premises.sender.next_counter(),
                premises.sender.security,
                premises.sender.utrn_counters,
            )
            response = await hub.send(raw, timeout=mix.timeout_s)
            code = decode_message(response).message_code
            expected = entry.expected_code
            if expected is None or code == expected:
                return ""
            return f"response code 0x{code:04X}, recorded 0x{expected:04X}"

        return await premises.measured(kind, attempt)


class Sniffer:
    """Records the GBCS commands and responses seen on a lab's HAN topics (any device).

    Fed raw envelopes (`feed`), e.g. from a subscription to ``smets/<lab>/han/+``:
    commands are paired with their responses by (remote party, counter). The
    recorded devices' types must be given (an envelope does not say them).
    """

    def __init__(self, devices: dict[str, bytes]) -> None:
        self.devices = devices
        self.commands: list[Recorded] = []
        self.ignored = 0
        self._pending: dict[tuple[bytes, int], int] = {}
        self._began = time.perf_counter()
        self._ours = set(devices.values())

    def feed(self, raw: bytes) -> None:
        from emulator.errors import GbcsError
        from emulator.gbcs.frame import Cra
        from emulator.han.envelope import Envelope, EnvelopeKind

        try:
            env = Envelope.decode(raw)
            if env.kind != EnvelopeKind.GBCS:
                self.ignored += 1
                return
            msg = decode_message(env.payload)
        except GbcsError:
            self.ignored += 1
            return
        if msg.cra == Cra.COMMAND and bytes(msg.recipient) in self._ours:
            self._pending[(bytes(msg.originator), msg.counter)] = len(self.commands)
            t = round(time.perf_counter() - self._began, 4)
            self.commands.append(Recorded(t, env.payload, None))
        elif msg.cra == Cra.RESPONSE:
            at = self._pending.pop((bytes(msg.recipient), msg.counter), None)
            if at is None:
                self.ignored += 1
                return
            entry = self.commands[at]
            self.commands[at] = Recorded(entry.t, entry.command, env.payload)
        else:
            self.ignored += 1

    def recording(self) -> Recording:
        if not self.commands:
            raise RecordingError("no commands to the given devices were seen")
        return Recording(dict(self.devices), list(self.commands))


async def sniff(broker: str, lab: str, devices: dict[str, bytes], seconds: float) -> Recording:
    """Record `seconds` of a lab's HAN traffic on an MQTT broker (`smets/<lab>/han/+`)."""
    import aiomqtt

    from emulator.han.mqtt import ROOT, parse_mqtt_url

    target = parse_mqtt_url(broker)
    sniffer = Sniffer(devices)
    client = aiomqtt.Client(
        target.host, target.port, username=target.username, password=target.password
    )
    try:
        async with client:
            await client.subscribe(f"{ROOT}/{lab}/han/+", qos=1)

            async def take() -> None:
                async for message in client.messages:
                    if isinstance(message.payload, bytes | bytearray) and not message.retain:
                        sniffer.feed(bytes(message.payload))

            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(take(), seconds)
    except aiomqtt.MqttError as exc:
        raise RecordingError(f"{broker}: cannot record: {exc}") from None
    return sniffer.recording()
