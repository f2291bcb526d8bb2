"""ASN.1 DER payloads as typed nodes (security credentials, CS06, hub commands).

GBCS defines these payloads in ASN.1 and sends them DER encoded. Decoding gives a
tree of typed nodes (INTEGER, OCTET STRING, GeneralizedTime, SEQUENCE, context
tagged, ...) that re-encodes to the same bytes. Non-minimal INTEGER contents, which
DER forbids but a device might still send, keep their original width so a round
trip stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from emulator.errors import GbcsDecodeError, GbcsEncodeError
from emulator.gbcs.reader import Reader, ber_length_bytes

MAX_DEPTH = 32


class Der:
    """Base of DER nodes. `TAG` is the identifier octet for universal types.

    `length_octets` is set only when a received length used a longer form than
    DER's minimal one (GBCS devices send ``30 81 xx`` for short sequences), so the
    node re-encodes to the bytes it came from.
    """

    TAG: ClassVar[int]
    NAME: ClassVar[str]
    length_octets: int | None

    def content(self) -> bytes:
        raise NotImplementedError

    def identifier(self) -> bytes:
        return bytes((self.TAG,))

    def encode(self) -> bytes:
        body = self.content()
        return self.identifier() + ber_length_bytes(len(body), self.length_octets) + body


@dataclass(slots=True)
class DerBoolean(Der):
    value: bool
    length_octets: int | None = None
    TAG: ClassVar[int] = 0x01
    NAME: ClassVar[str] = "BOOLEAN"

    def content(self) -> bytes:
        return b"\xff" if self.value else b"\x00"


@dataclass(slots=True)
class DerInteger(Der):
    value: int
    width: int | None = None  # content length when not minimal
    length_octets: int | None = None
    TAG: ClassVar[int] = 0x02
    NAME: ClassVar[str] = "INTEGER"

    def content(self) -> bytes:
        n = self.width or max(1, (self.value + (self.value < 0)).bit_length() // 8 + 1)
        try:
            return self.value.to_bytes(n, "big", signed=True)
        except OverflowError:
            raise GbcsEncodeError("INTEGER", f"{self.value} does not fit {n} bytes") from None


@dataclass(slots=True)
class DerEnumerated(Der):
    value: int
    length_octets: int | None = None
    TAG: ClassVar[int] = 0x0A
    NAME: ClassVar[str] = "ENUMERATED"

    def content(self) -> bytes:
        return self.value.to_bytes(max(1, self.value.bit_length() // 8 + 1), "big", signed=True)


@dataclass(slots=True)
class DerBitString(Der):
    unused_bits: int
    value: bytes
    length_octets: int | None = None
    TAG: ClassVar[int] = 0x03
    NAME: ClassVar[str] = "BIT STRING"

    def content(self) -> bytes:
        return bytes((self.unused_bits,)) + self.value


@dataclass(slots=True)
class DerOctetString(Der):
    value: bytes
    length_octets: int | None = None
    TAG: ClassVar[int] = 0x04
    NAME: ClassVar[str] = "OCTET STRING"

    def content(self) -> bytes:
        return self.value


@dataclass(slots=True)
class DerNull(Der):
    length_octets: int | None = None
    TAG: ClassVar[int] = 0x05
    NAME: ClassVar[str] = "NULL"

    def content(self) -> bytes:
        return b""


@dataclass(slots=True)
class DerObjectIdentifier(Der):
    dotted: str
    length_octets: int | None = None
    TAG: ClassVar[int] = 0x06
    NAME: ClassVar[str] = "OBJECT IDENTIFIER"

    def content(self) -> bytes:
        parts = [int(p) for p in self.dotted.split(".")]
        if len(parts) < 2:
            raise GbcsEncodeError("OBJECT IDENTIFIER", f"needs two arcs: {self.dotted}")
        out = bytearray(_base128(parts[0] * 40 + parts[1]))
        for arc in parts[2:]:
            out += _base128(arc)
        return bytes(out)


@dataclass(slots=True)
class DerString(Der):
    """Character strings (UTF8String, PrintableString, IA5String, ...) and times."""

    tag: int
    value: bytes
    length_octets: int | None = None
    NAME: ClassVar[str] = "STRING"

    def identifier(self) -> bytes:
        return bytes((self.tag,))

    def content(self) -> bytes:
        return self.value

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "replace")

    @property
    def type_name(self) -> str:
        return _STRING_NAMES.get(self.tag, f"[UNIVERSAL {self.tag}]")


@dataclass(slots=True)
class DerConstructed(Der):
    """SEQUENCE, SET, or a constructed context/application/private tag."""

    identifier_octets: bytes
    items: list[Der]
    length_octets: int | None = None
    NAME: ClassVar[str] = "CONSTRUCTED"

    def identifier(self) -> bytes:
        return self.identifier_octets

    def content(self) -> bytes:
        return b"".join(item.encode() for item in self.items)

    @property
    def type_name(self) -> str:
        return _tag_name(self.identifier_octets)


@dataclass(slots=True)
class DerPrimitive(Der):
    """A primitive tag we have no dedicated node for (context tags, for example)."""

    identifier_octets: bytes
    value: bytes
    length_octets: int | None = None
    NAME: ClassVar[str] = "PRIMITIVE"

    def identifier(self) -> bytes:
        return self.identifier_octets

    def content(self) -> bytes:
        return self.value

    @property
    def type_name(self) -> str:
        return _tag_name(self.identifier_octets)


def DerSequence(items: list[Der]) -> DerConstructed:
    return DerConstructed(b"\x30", items)


_STRING_NAMES = {
    0x0C: "UTF8String",
    0x12: "NumericString",
    0x13: "PrintableString",
    0x14: "TeletexString",
    0x16: "IA5String",
    0x17: "UTCTime",
    0x18: "GeneralizedTime",
    0x1A: "VisibleString",
    0x1E: "BMPString",
}


def _tag_name(identifier: bytes) -> str:
    first = identifier[0]
    if first == 0x30:
        return "SEQUENCE"
    if first == 0x31:
        return "SET"
    cls = ("UNIVERSAL", "APPLICATION", "", "PRIVATE")[first >> 6]
    number = first & 0x1F
    if number == 0x1F:
        number = 0
        for b in identifier[1:]:
            number = (number << 7) | (b & 0x7F)
    return f"[{cls} {number}]".replace("[ ", "[")


def _base128(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _read_identifier(r: Reader) -> bytes:
    start = r.pos
    first = r.u8("tag")
    if first & 0x1F != 0x1F:
        return bytes((first,))
    while True:
        b = r.u8("tag")
        if not b & 0x80:
            break
        if r.pos - start > 5:
            raise r.fail("tag", "tag number too long", start)
    return r.data[start : r.pos]


def read_der(r: Reader, depth: int = 0) -> Der:
    if depth > MAX_DEPTH:
        raise r.fail("value", "nested too deeply")
    start = r.pos
    identifier = _read_identifier(r)
    length, octets = r.ber_length_octets("length")
    node = _read_body(r, identifier, r.sub(length, "content"), start, depth)
    if octets != len(ber_length_bytes(length)):
        node.length_octets = octets
    return node


def _read_body(r: Reader, identifier: bytes, body: Reader, start: int, depth: int) -> Der:
    first = identifier[0]
    if first & 0x20:  # constructed
        items: list[Der] = []
        while not body.at_end():
            items.append(read_der(body, depth + 1))
        return DerConstructed(identifier, items)
    value = body.rest("content")
    if len(identifier) > 1 or first & 0xC0:
        return DerPrimitive(identifier, value)
    if first == 0x02:
        if not value:
            raise r.fail("INTEGER", "empty content", start)
        number = int.from_bytes(value, "big", signed=True)
        node = DerInteger(number)
        if node.content() != value:
            node.width = len(value)
        return node
    if first == 0x01:
        if len(value) != 1:
            raise r.fail("BOOLEAN", "content must be one byte", start)
        if value not in (b"\x00", b"\xff"):
            return DerPrimitive(identifier, value)  # keeps a non-DER boolean exact
        return DerBoolean(value == b"\xff")
    if first == 0x03:
        if not value or value[0] > 7:
            raise r.fail("BIT STRING", "bad unused-bits octet", start)
        return DerBitString(value[0], value[1:])
    if first == 0x04:
        return DerOctetString(value)
    if first == 0x05:
        if value:
            raise r.fail("NULL", "content must be empty", start)
        return DerNull()
    if first == 0x06:
        return _decode_oid(value, r, start)
    if first == 0x0A:
        node_e = DerEnumerated(int.from_bytes(value, "big", signed=True))
        return node_e if node_e.content() == value else DerPrimitive(identifier, value)
    return DerString(first, value)


def _decode_oid(value: bytes, r: Reader, start: int) -> Der:
    if not value or value[-1] & 0x80:
        raise r.fail("OBJECT IDENTIFIER", "truncated arc", start)
    arcs: list[int] = []
    acc = 0
    for b in value:
        acc = (acc << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(acc)
            acc = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    node = DerObjectIdentifier(".".join(str(a) for a in head + arcs[1:]))
    if node.content() != value:  # non-minimal arcs: keep exact
        return DerPrimitive(b"\x06", value)
    return node


def decode_der(raw: bytes, path: str = "asn1") -> Der:
    """Exactly one DER value filling `raw`."""
    if not raw:
        raise GbcsDecodeError(path, 0, "empty ASN.1 payload")
    r = Reader(raw, path=path)
    node = read_der(r)
    r.done()
    return node
