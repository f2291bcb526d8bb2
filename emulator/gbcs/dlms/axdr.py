"""A-XDR encoded DLMS `Data` as typed nodes.

Each COSEM data type is a small dataclass with its wire tag; `read_data` turns
bytes into a tree of them and `encode_data` turns the tree back into the same
bytes. Names follow the DLMS Blue Book (double-long, long-unsigned, ...), so a
reader can match a node with the specification and with the COSEM attribute it
holds. Compact arrays are decoded through their type description into the same
nodes, so callers never see packed bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from emulator.errors import GbcsEncodeError
from emulator.gbcs.dlms.datetime import DlmsDate, DlmsDateTime, DlmsTime
from emulator.gbcs.reader import Reader, ber_length_bytes


class Data:
    """Base of every A-XDR data node."""

    __slots__ = ()
    TAG: ClassVar[int]
    NAME: ClassVar[str]

    def write(self, out: bytearray) -> None:
        out.append(self.TAG)
        self.write_value(out)

    def write_value(self, out: bytearray) -> None:
        """The content without the tag (as packed inside compact arrays)."""
        raise NotImplementedError

    def encode(self) -> bytes:
        out = bytearray()
        self.write(out)
        return bytes(out)


@dataclass(slots=True)
class NullData(Data):
    TAG: ClassVar[int] = 0x00
    NAME: ClassVar[str] = "null-data"

    def write_value(self, out: bytearray) -> None:
        return None


@dataclass(slots=True)
class DontCare(Data):
    TAG: ClassVar[int] = 0xFF
    NAME: ClassVar[str] = "dont-care"

    def write_value(self, out: bytearray) -> None:
        return None


@dataclass(slots=True)
class Array(Data):
    items: list[Data]
    TAG: ClassVar[int] = 0x01
    NAME: ClassVar[str] = "array"

    def write(self, out: bytearray) -> None:
        # The codec's hottest path: tag and short-form count without further calls.
        n = len(self.items)
        if n < 0x80:
            out += bytes((0x01, n))
        else:
            out.append(0x01)
            out += ber_length_bytes(n)
        for item in self.items:
            item.write(out)

    def write_value(self, out: bytearray) -> None:
        out += ber_length_bytes(len(self.items))
        for item in self.items:
            item.write(out)


@dataclass(slots=True)
class Structure(Data):
    items: list[Data]
    TAG: ClassVar[int] = 0x02
    NAME: ClassVar[str] = "structure"

    def write(self, out: bytearray) -> None:
        n = len(self.items)
        if n < 0x80:
            out += bytes((0x02, n))
        else:
            out.append(0x02)
            out += ber_length_bytes(n)
        for item in self.items:
            item.write(out)

    def write_value(self, out: bytearray) -> None:
        out += ber_length_bytes(len(self.items))
        for item in self.items:
            item.write(out)


@dataclass(slots=True)
class Boolean(Data):
    """Any non-zero octet is true; GBCS commands send 0xFF, so the octet is kept."""

    value: bool
    octet: int | None = None  # wire byte when it is not the canonical 0x00/0x01
    TAG: ClassVar[int] = 0x03
    NAME: ClassVar[str] = "boolean"

    def write_value(self, out: bytearray) -> None:
        if self.octet is not None and bool(self.octet) == self.value:
            out.append(self.octet)
        else:
            out.append(0x01 if self.value else 0x00)


@dataclass(slots=True)
class BitString(Data):
    """`bits` significant bits, first bit in the most significant bit of value[0]."""

    bits: int
    value: bytes
    TAG: ClassVar[int] = 0x04
    NAME: ClassVar[str] = "bit-string"

    def write_value(self, out: bytearray) -> None:
        if len(self.value) != (self.bits + 7) // 8:
            raise GbcsEncodeError(
                "bit-string", f"{self.bits} bits need {(self.bits + 7) // 8} bytes"
            )
        out += ber_length_bytes(self.bits)
        out += self.value


class _Integer(Data):
    __slots__ = ()
    SIZE: ClassVar[int]
    SIGNED: ClassVar[bool]
    value: int

    def write(self, out: bytearray) -> None:
        out.append(self.TAG)
        try:
            out += self.value.to_bytes(self.SIZE, "big", signed=self.SIGNED)
        except OverflowError:
            raise GbcsEncodeError(self.NAME, f"{self.value} out of range") from None

    def write_value(self, out: bytearray) -> None:
        try:
            out += self.value.to_bytes(self.SIZE, "big", signed=self.SIGNED)
        except OverflowError:
            raise GbcsEncodeError(self.NAME, f"{self.value} out of range") from None


@dataclass(slots=True)
class DoubleLong(_Integer):
    value: int
    TAG: ClassVar[int] = 0x05
    NAME: ClassVar[str] = "double-long"
    SIZE: ClassVar[int] = 4
    SIGNED: ClassVar[bool] = True


@dataclass(slots=True)
class DoubleLongUnsigned(_Integer):
    value: int
    TAG: ClassVar[int] = 0x06
    NAME: ClassVar[str] = "double-long-unsigned"
    SIZE: ClassVar[int] = 4
    SIGNED: ClassVar[bool] = False


@dataclass(slots=True)
class Integer(_Integer):
    value: int
    TAG: ClassVar[int] = 0x0F
    NAME: ClassVar[str] = "integer"
    SIZE: ClassVar[int] = 1
    SIGNED: ClassVar[bool] = True


@dataclass(slots=True)
class Long(_Integer):
    value: int
    TAG: ClassVar[int] = 0x10
    NAME: ClassVar[str] = "long"
    SIZE: ClassVar[int] = 2
    SIGNED: ClassVar[bool] = True


@dataclass(slots=True)
class Unsigned(_Integer):
    value: int
    TAG: ClassVar[int] = 0x11
    NAME: ClassVar[str] = "unsigned"
    SIZE: ClassVar[int] = 1
    SIGNED: ClassVar[bool] = False


@dataclass(slots=True)
class LongUnsigned(_Integer):
    value: int
    TAG: ClassVar[int] = 0x12
    NAME: ClassVar[str] = "long-unsigned"
    SIZE: ClassVar[int] = 2
    SIGNED: ClassVar[bool] = False


@dataclass(slots=True)
class Long64(_Integer):
    value: int
    TAG: ClassVar[int] = 0x14
    NAME: ClassVar[str] = "long64"
    SIZE: ClassVar[int] = 8
    SIGNED: ClassVar[bool] = True


@dataclass(slots=True)
class Long64Unsigned(_Integer):
    value: int
    TAG: ClassVar[int] = 0x15
    NAME: ClassVar[str] = "long64-unsigned"
    SIZE: ClassVar[int] = 8
    SIGNED: ClassVar[bool] = False


@dataclass(slots=True)
class Enum(_Integer):
    value: int
    TAG: ClassVar[int] = 0x16
    NAME: ClassVar[str] = "enum"
    SIZE: ClassVar[int] = 1
    SIGNED: ClassVar[bool] = False


@dataclass(slots=True)
class Bcd(_Integer):
    value: int
    TAG: ClassVar[int] = 0x0D
    NAME: ClassVar[str] = "bcd"
    SIZE: ClassVar[int] = 1
    SIGNED: ClassVar[bool] = True


class _Bytes(Data):
    __slots__ = ()
    value: bytes

    def write(self, out: bytearray) -> None:
        n = len(self.value)
        if n < 0x80:
            out += bytes((self.TAG, n))
        else:
            out.append(self.TAG)
            out += ber_length_bytes(n)
        out += self.value

    def write_value(self, out: bytearray) -> None:
        out += ber_length_bytes(len(self.value))
        out += self.value


@dataclass(slots=True)
class OctetString(_Bytes):
    value: bytes
    TAG: ClassVar[int] = 0x09
    NAME: ClassVar[str] = "octet-string"


@dataclass(slots=True)
class VisibleString(_Bytes):
    """ASCII text; kept as bytes so any byte a device sends survives a round trip."""

    value: bytes
    TAG: ClassVar[int] = 0x0A
    NAME: ClassVar[str] = "visible-string"

    @property
    def text(self) -> str:
        return self.value.decode("ascii", "replace")


@dataclass(slots=True)
class Utf8String(_Bytes):
    value: bytes
    TAG: ClassVar[int] = 0x0C
    NAME: ClassVar[str] = "utf8-string"

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "replace")


@dataclass(slots=True)
class Float32(Data):
    """`raw` keeps the wire bytes when a float cannot carry them (NaN payloads)."""

    value: float
    raw: bytes | None = None
    TAG: ClassVar[int] = 0x17
    NAME: ClassVar[str] = "float32"

    def write_value(self, out: bytearray) -> None:
        out += self.raw if self.raw is not None else struct.pack(">f", self.value)


@dataclass(slots=True)
class Float64(Data):
    value: float
    raw: bytes | None = None
    TAG: ClassVar[int] = 0x18
    NAME: ClassVar[str] = "float64"

    def write_value(self, out: bytearray) -> None:
        out += self.raw if self.raw is not None else struct.pack(">d", self.value)


@dataclass(slots=True)
class DateTime(Data):
    value: DlmsDateTime
    TAG: ClassVar[int] = 0x19
    NAME: ClassVar[str] = "date-time"

    def write_value(self, out: bytearray) -> None:
        out += self.value.encode()


@dataclass(slots=True)
class Date(Data):
    value: DlmsDate
    TAG: ClassVar[int] = 0x1A
    NAME: ClassVar[str] = "date"

    def write_value(self, out: bytearray) -> None:
        out += self.value.encode()


@dataclass(slots=True)
class Time(Data):
    value: DlmsTime
    TAG: ClassVar[int] = 0x1B
    NAME: ClassVar[str] = "time"

    def write_value(self, out: bytearray) -> None:
        out += self.value.encode()


# -- compact arrays ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeDescription:
    """Type of the elements of a compact array.

    `tag` is a simple type tag, or 0x01 (array: `count` elements of `elements[0]`)
    or 0x02 (structure of `elements`).
    """

    tag: int
    count: int = 0
    elements: tuple[TypeDescription, ...] = ()

    def write(self, out: bytearray) -> None:
        out.append(self.tag)
        if self.tag == Array.TAG:
            out += self.count.to_bytes(2, "big")
            self.elements[0].write(out)
        elif self.tag == Structure.TAG:
            out += ber_length_bytes(len(self.elements))
            for element in self.elements:
                element.write(out)


@dataclass(slots=True)
class CompactArray(Data):
    """Packed repeats of `description`, decoded into ordinary nodes."""

    description: TypeDescription
    values: list[Data]
    TAG: ClassVar[int] = 0x13
    NAME: ClassVar[str] = "compact-array"

    def write_value(self, out: bytearray) -> None:
        self.description.write(out)
        content = bytearray()
        for value in self.values:
            _write_untagged(value, self.description, content)
        out += ber_length_bytes(len(content))
        out += content


def _write_untagged(value: Data, desc: TypeDescription, out: bytearray) -> None:
    if desc.tag != value.TAG:
        raise GbcsEncodeError(
            "compact-array", f"value {value.NAME} does not match description tag {desc.tag:#04x}"
        )
    if isinstance(value, Array):
        if len(value.items) != desc.count:
            raise GbcsEncodeError("compact-array", "array length differs from its description")
        for item in value.items:
            _write_untagged(item, desc.elements[0], out)
    elif isinstance(value, Structure):
        if len(value.items) != len(desc.elements):
            raise GbcsEncodeError("compact-array", "structure size differs from its description")
        for item, element in zip(value.items, desc.elements, strict=True):
            _write_untagged(item, element, out)
    else:
        value.write_value(out)


# -- decoding ------------------------------------------------------------------------


def _read_int(cls: type[_Integer]) -> Callable[[Reader], Data]:
    size, signed = cls.SIZE, cls.SIGNED
    name = cls.NAME

    def read(r: Reader) -> Data:
        p = r.pos
        q = p + size
        if q > r.end:  # the bounds check of `Reader.take`, inlined on the hot path
            return cls(int.from_bytes(r.take(size, name), "big", signed=signed))  # type: ignore[call-arg]
        r.pos = q
        return cls(int.from_bytes(r.data[p:q], "big", signed=signed))  # type: ignore[call-arg]

    return read


MAX_DEPTH = 100  # GBCS data nests a handful of levels; this bounds hostile input


def _short_length(r: Reader) -> int:
    """A short-form BER length read in place, or -1 (then `Reader.ber_length` reads it)."""
    p = r.pos
    if p < r.end:
        first = r.data[p]
        if first < 0x80:
            r.pos = p + 1
            return first
    return -1


def _read_items(r: Reader, n: int) -> list[Data]:
    """`n` tagged values of a structure or array.

    Most nodes of a DLMS payload are octet strings and integers inside structures
    (a 1.1.1 price matrix has 160), so those are read here in place when they are
    whole and in short form; anything else, and every error, goes through
    `read_data`, which reports it exactly as before.
    """
    items: list[Data] = []
    append = items.append
    data = r.data
    end = r.end
    for _ in range(n):
        p = r.pos
        if p + 1 < end:
            tag = data[p]
            if tag == 0x09:
                length = data[p + 1]
                q = p + 2 + length
                if length < 0x80 and q <= end:
                    r.pos = q
                    append(OctetString(data[p + 2 : q]))
                    continue
            else:
                fixed = _FIXED_INTS.get(tag)
                if fixed is not None:
                    cls, size, signed = fixed
                    q = p + 1 + size
                    if q <= end:
                        r.pos = q
                        append(cls(int.from_bytes(data[p + 1 : q], "big", signed=signed)))  # type: ignore[call-arg]
                        continue
        append(read_data(r))
    return items


def _read_array(r: Reader) -> Data:
    n = _short_length(r)
    if n < 0:
        n = r.ber_length("array.count")
    r.enter("array", MAX_DEPTH)
    items = _read_items(r, n)
    r.depth -= 1
    return Array(items)


def _read_structure(r: Reader) -> Data:
    n = _short_length(r)
    if n < 0:
        n = r.ber_length("structure.count")
    r.enter("structure", MAX_DEPTH)
    items = _read_items(r, n)
    r.depth -= 1
    return Structure(items)


def _read_bool(r: Reader) -> Data:
    b = r.u8("boolean")
    return Boolean(b != 0, None if b in (0, 1) else b)


def _read_bitstring(r: Reader) -> Data:
    bits = r.ber_length("bit-string.length")
    return BitString(bits, r.take((bits + 7) // 8, "bit-string"))


def _read_octets(r: Reader) -> Data:
    p = r.pos
    data = r.data
    if p < r.end and data[p] < 0x80:  # short length and its bytes in bounds: read in place
        q = p + 1 + data[p]
        if q <= r.end:
            r.pos = q
            return OctetString(data[p + 1 : q])
    return OctetString(r.take(r.ber_length("octet-string.length"), "octet-string"))


def _read_visible(r: Reader) -> Data:
    return VisibleString(r.take(r.ber_length("visible-string.length"), "visible-string"))


def _read_utf8(r: Reader) -> Data:
    return Utf8String(r.take(r.ber_length("utf8-string.length"), "utf8-string"))


def _read_float32(r: Reader) -> Data:
    raw = r.take(4, "float32")
    value = struct.unpack(">f", raw)[0]
    return Float32(value, None if struct.pack(">f", value) == raw else raw)


def _read_float64(r: Reader) -> Data:
    raw = r.take(8, "float64")
    value = struct.unpack(">d", raw)[0]
    return Float64(value, None if struct.pack(">d", value) == raw else raw)


def _read_compact(r: Reader) -> Data:
    desc = _read_type_description(r, 0)
    length = r.ber_length("compact-array.length")
    content = r.sub(length, "compact-array.contents")
    values: list[Data] = []
    while not content.at_end():
        before = content.pos
        values.append(_read_untagged(content, desc))
        if content.pos == before:
            raise content.fail("compact-array", "element type has no content but bytes remain")
    return CompactArray(desc, values)


def _read_type_description(r: Reader, depth: int) -> TypeDescription:
    if depth > 8:
        raise r.fail("compact-array.type", "type description nested too deeply")
    tag = r.u8("compact-array.type")
    if tag == Array.TAG:
        count = r.uint(2, "compact-array.type.count")
        return TypeDescription(tag, count, (_read_type_description(r, depth + 1),))
    if tag == Structure.TAG:
        n = r.ber_length("compact-array.type.count")
        return TypeDescription(
            tag, 0, tuple(_read_type_description(r, depth + 1) for _ in range(n))
        )
    if tag not in _READERS or tag == CompactArray.TAG:
        raise r.fail("compact-array.type", f"unknown type tag 0x{tag:02X}", r.pos - 1)
    return TypeDescription(tag)


def _read_untagged(r: Reader, desc: TypeDescription) -> Data:
    if desc.tag == Array.TAG:
        return Array([_read_untagged(r, desc.elements[0]) for _ in range(desc.count)])
    if desc.tag == Structure.TAG:
        return Structure([_read_untagged(r, e) for e in desc.elements])
    return _READERS[desc.tag](r)


_READERS: dict[int, Callable[[Reader], Data]] = {
    0x00: lambda r: NullData(),
    0x01: _read_array,
    0x02: _read_structure,
    0x03: _read_bool,
    0x04: _read_bitstring,
    0x05: _read_int(DoubleLong),
    0x06: _read_int(DoubleLongUnsigned),
    0x09: _read_octets,
    0x0A: _read_visible,
    0x0C: _read_utf8,
    0x0D: _read_int(Bcd),
    0x0F: _read_int(Integer),
    0x10: _read_int(Long),
    0x11: _read_int(Unsigned),
    0x12: _read_int(LongUnsigned),
    0x13: _read_compact,
    0x14: _read_int(Long64),
    0x15: _read_int(Long64Unsigned),
    0x16: _read_int(Enum),
    0x17: _read_float32,
    0x18: _read_float64,
    0x19: lambda r: DateTime(DlmsDateTime.read(r, "date-time")),
    0x1A: lambda r: Date(DlmsDate.read(r, "date")),
    0x1B: lambda r: Time(DlmsTime.read(r, "time")),
    0xFF: lambda r: DontCare(),
}

#: Integer tags -> (class, size, signed), for `_read_items`.
_FIXED_INTS: dict[int, tuple[type[_Integer], int, bool]] = {
    cls.TAG: (cls, cls.SIZE, cls.SIGNED)
    for cls in (
        DoubleLong,
        DoubleLongUnsigned,
        Bcd,
        Integer,
        Long,
        Unsigned,
        LongUnsigned,
        Long64,
        Long64Unsigned,
        Enum,
    )
}

DATA_TYPES: dict[int, type[Data]] = {
    cls.TAG: cls
    for cls in (
        NullData,
        Array,
        Structure,
        Boolean,
        BitString,
        DoubleLong,
        DoubleLongUnsigned,
        OctetString,
        VisibleString,
        Utf8String,
        Bcd,
        Integer,
        Long,
        Unsigned,
        LongUnsigned,
        CompactArray,
        Long64,
        Long64Unsigned,
        Enum,
        Float32,
        Float64,
        DateTime,
        Date,
        Time,
        DontCare,
    )
}
assert set(DATA_TYPES) == set(_READERS), "every data type needs a reader"


def read_data(r: Reader) -> Data:
    """One tagged Data from the reader."""
    start = r.pos
    if start >= r.end:
        r.u8("data.tag")  # raises the truncation error
    tag = r.data[start]
    r.pos = start + 1
    reader = _READERS.get(tag)
    if reader is None:
        raise r.fail("data.tag", f"unknown A-XDR type tag 0x{tag:02X}", start)
    return reader(r)


def decode_data(raw: bytes) -> Data:
    """Exactly one Data filling `raw`."""
    r = Reader(raw, path="data")
    value = read_data(r)
    r.done("data")
    return value


def encode_data(value: Data) -> bytes:
    return value.encode()
