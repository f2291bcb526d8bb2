"""GBZ: the GBCS container for ZigBee (ZCL) payloads of gas meters and the GPF.

Layout (GBCS section 7.2; big-endian header fields, little-endian ZCL payloads)::

    payload    01 09 <component count 1> component*
    alert      01 09 <count 1> <alert code 2> <timestamp 4> <alert-specific body>
    component  <control 1> <cluster 2> <length 2>
               [<from date-time 4>            if control bit 4]
               [<additional header control 1> <frame counter 1>   if control bit 1]
               <ZCL frame control 1> [<manufacturer code 2>] <sequence 1> <command id 1>
               payload | <ciphered length 2> 31 00000000 ciphertext tag(12)   (bit 1)

Control bits: 0 = last component, 1 = encrypted, 4 = from-date-time present. An
encrypted payload is the ZCL payload after the command id; its key is the
sensitive-data key of the message (see `emulator.gbcs.security`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import GbcsDecodeError, GbcsEncodeError
from emulator.gbcs.reader import Reader
from emulator.gbcs.zcl.clusters import Direction, lookup
from emulator.gbcs.zcl.foundation import GENERAL_COMMANDS
from emulator.gbcs.zcl.types import Fields, Struct

ZSE_PROFILE = 0x0109
CONTROL_LAST = 0x01
CONTROL_ENCRYPTED = 0x02
CONTROL_FROM_DATE_TIME = 0x10
FC_CLUSTER_SPECIFIC = 0x01
FC_MANUFACTURER = 0x04
FC_TO_CLIENT = 0x08
FC_DISABLE_DEFAULT_RESPONSE = 0x10
ENCRYPTED_SECURITY_HEADER = 0x31
TAG_LENGTH = 12


@dataclass(slots=True)
class EncryptedPayload:
    """A ZCL payload encrypted as sensitive data (AES-128-GCM, AAD = 0x31)."""

    ciphertext: bytes
    tag: bytes
    security_control: int = ENCRYPTED_SECURITY_HEADER
    invocation_counter: int = 0

    def encode(self) -> bytes:
        if len(self.tag) != TAG_LENGTH:
            raise GbcsEncodeError("encrypted.tag", f"must be {TAG_LENGTH} bytes")
        body = (
            bytes((self.security_control,))
            + self.invocation_counter.to_bytes(4, "big")
            + self.ciphertext
            + self.tag
        )
        return len(body).to_bytes(2, "big") + body

    @classmethod
    def read(cls, r: Reader) -> EncryptedPayload:
        length = r.uint(2, "ciphered_length")
        body = r.sub(length, "ciphered")
        sc = body.u8("security_control")
        ic = body.uint(4, "invocation_counter")
        if body.remaining < TAG_LENGTH:
            raise body.fail("tag", "shorter than the GCM tag")
        ct = body.take(body.remaining - TAG_LENGTH, "ciphertext")
        return cls(ct, body.take(TAG_LENGTH, "tag"), sc, ic)


@dataclass(slots=True)
class ZclFrame:
    """One ZCL command: header, and either decoded fields or an encrypted payload."""

    frame_control: int
    sequence: int
    command_id: int
    fields: Fields | None = None
    encrypted: EncryptedPayload | None = None
    manufacturer_code: int | None = None
    name: str = ""

    @property
    def cluster_specific(self) -> bool:
        return bool(self.frame_control & FC_CLUSTER_SPECIFIC)

    @property
    def direction(self) -> Direction:
        return Direction.TO_CLIENT if self.frame_control & FC_TO_CLIENT else Direction.TO_SERVER


@dataclass(slots=True)
class GbzComponent:
    control: int
    cluster: int
    frame: ZclFrame
    from_date_time: int | None = None  # ZigBee UTC seconds since 2000-01-01
    frame_counter: int | None = None  # additional header, encrypted components only
    additional_header_control: int = 0

    @property
    def encrypted(self) -> bool:
        return bool(self.control & CONTROL_ENCRYPTED)

    @property
    def last(self) -> bool:
        return bool(self.control & CONTROL_LAST)


@dataclass(slots=True)
class GbzPayload:
    components: list[GbzComponent]
    profile_id: int = ZSE_PROFILE


@dataclass(slots=True)
class FutureDatedGbzOutcome:
    """Body of alert 0x00CD: which future-dated command ran (or failed)."""

    message_code: int
    originator_counter: int
    cluster: int
    frame_control: int
    command_id: int


@dataclass(slots=True)
class GbzAlert:
    """GBZ alert: header then a body whose shape the message code decides.

    `body` is a list of components, a `FutureDatedGbzOutcome`, the 2-byte meter
    integrity code (int), a firmware hash (bytes) or None (no body).
    """

    alert_code: int
    timestamp: int
    component_count: int
    body: list[GbzComponent] | FutureDatedGbzOutcome | int | bytes | None = None
    profile_id: int = ZSE_PROFILE
    body_kind: str = field(default="components")


# -- ZCL payload schemas ------------------------------------------------------------------


def schema_for(cluster: int, frame_control: int, command_id: int) -> tuple[str, Struct] | None:
    if frame_control & FC_CLUSTER_SPECIFIC:
        direction = Direction.TO_CLIENT if frame_control & FC_TO_CLIENT else Direction.TO_SERVER
        definition = lookup(cluster, direction, command_id)
        return None if definition is None else (definition.name, definition.schema)
    general = GENERAL_COMMANDS.get(command_id)
    return None if general is None else (general.name, general.schema)


def decode_zcl_payload(
    cluster: int, frame_control: int, command_id: int, raw: bytes, path: str = "zcl"
) -> tuple[str, Fields]:
    """Decode the bytes after the command id with the command's schema."""
    found = schema_for(cluster, frame_control, command_id)
    if found is None:
        kind = "cluster-specific" if frame_control & FC_CLUSTER_SPECIFIC else "general"
        direction = "to-client" if frame_control & FC_TO_CLIENT else "to-server"
        raise GbcsDecodeError(
            f"{path}.command_id",
            0,
            f"no schema for {kind} {direction} command 0x{command_id:02X}"
            f" of cluster 0x{cluster:04X}",
        )
    name, schema = found
    r = Reader(raw, path=f"{path}.{name}")
    fields = schema.read(r, {})
    r.done()
    return name, fields


def encode_zcl_payload(cluster: int, frame_control: int, command_id: int, fields: Fields) -> bytes:
    found = schema_for(cluster, frame_control, command_id)
    if found is None:
        raise GbcsEncodeError(
            "zcl", f"no schema for command 0x{command_id:02X} of cluster 0x{cluster:04X}"
        )
    out = bytearray()
    found[1].write(fields, out, fields)
    return bytes(out)


# -- components ---------------------------------------------------------------------------


def _read_component(r: Reader, index: int) -> GbzComponent:
    path = f"component[{index}]"
    control = r.u8(f"{path}.control")
    cluster = r.uint(2, f"{path}.cluster")
    length = r.uint(2, f"{path}.length")
    body = r.sub(length, path)
    from_dt = body.uint(4, "from_date_time") if control & CONTROL_FROM_DATE_TIME else None
    frame_counter = None
    ahc = 0
    if control & CONTROL_ENCRYPTED:
        ahc = body.u8("additional_header.control")
        frame_counter = body.u8("additional_header.frame_counter")
    fc = body.u8("zcl.frame_control")
    manufacturer = body.uint_le(2, "zcl.manufacturer_code") if fc & FC_MANUFACTURER else None
    seq = body.u8("zcl.sequence")
    cmd = body.u8("zcl.command_id")
    found = schema_for(cluster, fc, cmd)
    name = found[0] if found else ""
    if control & CONTROL_ENCRYPTED:
        encrypted = EncryptedPayload.read(body)
        body.done("encrypted")
        frame = ZclFrame(fc, seq, cmd, None, encrypted, manufacturer, name)
    else:
        start = body.pos
        if found is None:
            raise body.fail(
                "zcl.command_id",
                f"no schema for command 0x{cmd:02X} of cluster 0x{cluster:04X}"
                f" (frame control 0x{fc:02X})",
                start - 1,
            )
        payload = Reader(body.data, body.pos, body.end, f"{path}.{name}")
        fields = found[1].read(payload, {})
        payload.done()
        frame = ZclFrame(fc, seq, cmd, fields, None, manufacturer, name)
    return GbzComponent(control, cluster, frame, from_dt, frame_counter, ahc)


def _write_component(c: GbzComponent, out: bytearray) -> None:
    body = bytearray()
    if c.control & CONTROL_FROM_DATE_TIME:
        if c.from_date_time is None:
            raise GbcsEncodeError("from_date_time", "control bit 4 set but no date-time")
        body += c.from_date_time.to_bytes(4, "big")
    f = c.frame
    if c.control & CONTROL_ENCRYPTED:
        body.append(c.additional_header_control)
        body.append(c.frame_counter or 0)
    body.append(f.frame_control)
    if f.frame_control & FC_MANUFACTURER:
        body += (f.manufacturer_code or 0).to_bytes(2, "little")
    body.append(f.sequence)
    body.append(f.command_id)
    if c.control & CONTROL_ENCRYPTED:
        if f.encrypted is None:
            raise GbcsEncodeError("component", "encrypted flag set but payload is not encrypted")
        body += f.encrypted.encode()
    else:
        if f.fields is None:
            raise GbcsEncodeError("component", "no fields to encode")
        body += encode_zcl_payload(c.cluster, f.frame_control, f.command_id, f.fields)
    out.append(c.control)
    out += c.cluster.to_bytes(2, "big")
    out += len(body).to_bytes(2, "big")
    out += body


def _read_profile(r: Reader) -> int:
    profile = r.uint(2, "profile_id")
    if profile != ZSE_PROFILE:
        raise r.fail("profile_id", f"expected 0x0109, got 0x{profile:04X}", r.pos - 2)
    return profile


def decode_gbz(raw: bytes) -> GbzPayload:
    r = Reader(raw, path="gbz")
    profile = _read_profile(r)
    count = r.u8("component_count")
    components = [_read_component(r, i) for i in range(count)]
    r.done()
    return GbzPayload(components, profile)


def encode_gbz(payload: GbzPayload) -> bytes:
    out = bytearray(payload.profile_id.to_bytes(2, "big"))
    out.append(len(payload.components))
    for c in payload.components:
        _write_component(c, out)
    return bytes(out)


# -- alerts -------------------------------------------------------------------------------


def _read_future_dated(r: Reader) -> FutureDatedGbzOutcome:
    length = r.u8("future_dated.length")
    b = r.sub(length, "future_dated")
    outcome = FutureDatedGbzOutcome(
        b.uint(2, "message_code"),
        b.uint(8, "originator_counter"),
        b.uint(2, "cluster"),
        b.u8("frame_control"),
        b.u8("command_id"),
    )
    b.done()
    return outcome


def _read_hash(r: Reader) -> bytes:
    r.expect(b"\x09", "firmware_hash.tag")
    n = r.u8("firmware_hash.length")
    return r.take(n, "firmware_hash")


_ALERT_BODIES: dict[int, tuple[str, Callable[[Reader], Any]]] = {
    0x00CD: ("future_dated_outcome", _read_future_dated),
    0x00F2: ("meter_integrity_code", lambda r: r.uint(2, "integrity_code")),
    0x00CF: ("firmware_hash", _read_hash),
}


def decode_gbz_alert(raw: bytes, message_code: int) -> GbzAlert:
    r = Reader(raw, path="gbz_alert")
    profile = _read_profile(r)
    count = r.u8("component_count")
    alert_code = r.uint(2, "alert_code")
    timestamp = r.uint(4, "timestamp")
    special = _ALERT_BODIES.get(message_code)
    body: list[GbzComponent] | FutureDatedGbzOutcome | int | bytes | None
    if special is not None:
        kind, reader = special
        body = reader(r)
    elif count == 0 and r.at_end():
        kind, body = "none", None
    else:
        kind, body = "components", [_read_component(r, i) for i in range(count)]
    r.done()
    return GbzAlert(alert_code, timestamp, count, body, profile, kind)


def encode_gbz_alert(alert: GbzAlert) -> bytes:
    out = bytearray(alert.profile_id.to_bytes(2, "big"))
    body = alert.body
    count = alert.component_count
    if isinstance(body, list):
        count = len(body)
    out.append(count)
    out += alert.alert_code.to_bytes(2, "big")
    out += alert.timestamp.to_bytes(4, "big")
    if isinstance(body, FutureDatedGbzOutcome):
        inner = (
            body.message_code.to_bytes(2, "big")
            + body.originator_counter.to_bytes(8, "big")
            + body.cluster.to_bytes(2, "big")
            + bytes((body.frame_control, body.command_id))
        )
        out.append(len(inner))
        out += inner
    elif isinstance(body, bytes):
        out += b"\x09" + bytes((len(body),)) + body
    elif isinstance(body, int):
        out += body.to_bytes(2, "big")
    elif isinstance(body, list):
        for c in body:
            _write_component(c, out)
    return bytes(out)


# -- a bare ZCL frame (no GBZ component around it) -----------------------------------------


def encode_zcl_frame(cluster: int, frame: ZclFrame) -> bytes:
    """A ZCL frame as a HAN peer sends it: header, then the command's payload.

    The same header and payload layout as inside a GBZ component, without the
    component's control, cluster and length (the carrier names the cluster).
    """
    if frame.fields is None:
        raise GbcsEncodeError("zcl", "a bare ZCL frame needs its fields (no encrypted payload)")
    out = bytearray((frame.frame_control,))
    if frame.frame_control & FC_MANUFACTURER:
        out += (frame.manufacturer_code or 0).to_bytes(2, "little")
    out += bytes((frame.sequence & 0xFF, frame.command_id & 0xFF))
    out += encode_zcl_payload(cluster, frame.frame_control, frame.command_id, frame.fields)
    return bytes(out)


def decode_zcl_frame(cluster: int, raw: bytes, path: str = "zcl") -> ZclFrame:
    """The inverse of `encode_zcl_frame`; a command without a schema, a short or a long
    payload is a `GbcsDecodeError` naming the field."""
    r = Reader(raw, path=path)
    fc = r.u8("frame_control")
    manufacturer = r.uint_le(2, "manufacturer_code") if fc & FC_MANUFACTURER else None
    seq = r.u8("sequence")
    cmd = r.u8("command_id")
    name, fields = decode_zcl_payload(cluster, fc, cmd, r.take(r.remaining, "payload"), path)
    return ZclFrame(fc, seq, cmd, fields, None, manufacturer, name)
