"""ZCL data types (ZigBee Cluster Library chapter 2) and schema field types.

Two families live here:

- `ZclType`: the self-describing attribute types, identified by a type id byte in
  read-attributes-response and write-attributes records (uint8 = 0x20, ...).
- Field types used in cluster command schemas (`U8`, `U32`, `OctStr`, `ListOf`,
  `Switch`, ...). They read and write little-endian values, as ZCL payloads are LE
  even inside big-endian GBZ headers.

Decoded values are plain Python values (int, bytes, list, dict) placed in typed
containers by the schema, so a decoded command is a named, typed tree.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from emulator.errors import GbcsEncodeError
from emulator.gbcs.reader import Reader

Fields = dict[str, Any]


class FieldType:
    """How one schema field is read from and written to a ZCL payload."""

    name: str = "field"

    def read(self, r: Reader, ctx: Fields) -> Any:
        raise NotImplementedError

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class UInt(FieldType):
    size: int
    name: str = "uint"

    def read(self, r: Reader, ctx: Fields) -> int:
        return int.from_bytes(r.take(self.size, self.name), "little")

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        try:
            out += int(value).to_bytes(self.size, "little")
        except (OverflowError, TypeError, ValueError):
            raise GbcsEncodeError(
                self.name, f"{value!r} does not fit {self.size} byte(s)"
            ) from None


@dataclass(frozen=True, slots=True)
class SInt(FieldType):
    size: int
    name: str = "int"

    def read(self, r: Reader, ctx: Fields) -> int:
        return int.from_bytes(r.take(self.size, self.name), "little", signed=True)

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        try:
            out += int(value).to_bytes(self.size, "little", signed=True)
        except (OverflowError, TypeError, ValueError):
            raise GbcsEncodeError(
                self.name, f"{value!r} does not fit {self.size} byte(s)"
            ) from None


@dataclass(frozen=True, slots=True)
class OctStr(FieldType):
    """Length-prefixed octet or character string (1-byte length, 2 for long)."""

    prefix: int = 1
    name: str = "octstr"

    def read(self, r: Reader, ctx: Fields) -> bytes | None:
        n = int.from_bytes(r.take(self.prefix, self.name + ".length"), "little")
        if n == (1 << (8 * self.prefix)) - 1:  # all-ones length: the "invalid" value
            return None
        return r.take(n, self.name)

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        if value is None:
            out += b"\xff" * self.prefix
            return
        raw = value.encode() if isinstance(value, str) else bytes(value)
        if len(raw) >= (1 << (8 * self.prefix)) - 1:
            raise GbcsEncodeError(self.name, f"too long: {len(raw)} bytes")
        out += len(raw).to_bytes(self.prefix, "little")
        out += raw


@dataclass(frozen=True, slots=True)
class Fixed(FieldType):
    """A fixed number of raw octets (security keys, IEEE addresses, hashes)."""

    size: int
    name: str = "octets"

    def read(self, r: Reader, ctx: Fields) -> bytes:
        return r.take(self.size, self.name)

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        raw = bytes(value)
        if len(raw) != self.size:
            raise GbcsEncodeError(self.name, f"needs {self.size} bytes, got {len(raw)}")
        out += raw


@dataclass(frozen=True, slots=True)
class ZDate(FieldType):
    """ZCL date: year-1900, month, day of month, day of week (0xFF = any)."""

    name: str = "date"

    def read(self, r: Reader, ctx: Fields) -> dict[str, int]:
        b = r.take(4, self.name)
        return {
            "year": b[0] + 1900 if b[0] != 0xFF else 0xFF,
            "month": b[1],
            "day": b[2],
            "weekday": b[3],
        }

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        year = value["year"]
        out += bytes(
            (year - 1900 if year != 0xFF else 0xFF, value["month"], value["day"], value["weekday"])
        )


@dataclass(frozen=True, slots=True)
class Struct(FieldType):
    """Named fields in order; later fields may depend on earlier ones."""

    fields: tuple[tuple[str, FieldType], ...]
    name: str = "struct"

    def read(self, r: Reader, ctx: Fields) -> Fields:
        out: Fields = {}
        for fname, ftype in self.fields:
            out[fname] = ftype.read(r, out)
        return out

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        for fname, ftype in self.fields:
            if fname not in value:
                raise GbcsEncodeError(fname, "missing field")
            ftype.write(value[fname], out, value)


@dataclass(frozen=True, slots=True)
class ListOf(FieldType):
    """Elements repeated to the end of the payload (ZCL "sub-payload" lists)."""

    element: FieldType
    name: str = "list"

    def read(self, r: Reader, ctx: Fields) -> list[Any]:
        items: list[Any] = []
        while not r.at_end():
            items.append(self.element.read(r, ctx))
        return items

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        for item in value:
            self.element.write(item, out, ctx)


def _identity(n: int) -> int:
    return n


def nibble_product(n: int) -> int:
    """Tiers (high nibble) times block thresholds (low nibble): tier-block counts."""
    return (n >> 4) * (n & 0x0F)


@dataclass(frozen=True, slots=True)
class Counted(FieldType):
    """Elements repeated as many times as an earlier field says."""

    count_field: str
    element: FieldType
    count: Callable[[int], int] = _identity
    name: str = "list"

    def read(self, r: Reader, ctx: Fields) -> list[Any]:
        n = self.count(ctx[self.count_field])
        return [self.element.read(r, ctx) for _ in range(n)]

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        if len(value) != self.count(ctx[self.count_field]):
            raise GbcsEncodeError(self.name, f"count differs from {self.count_field}")
        for item in value:
            self.element.write(item, out, ctx)


@dataclass(frozen=True, slots=True)
class Switch(FieldType):
    """Shape chosen by an earlier field (snapshot payload types, for example)."""

    selector: str
    cases: Mapping[int, FieldType]
    default: FieldType | None = None
    name: str = "switch"

    def _pick(self, ctx: Mapping[str, Any]) -> FieldType:
        key = ctx[self.selector]
        chosen = self.cases.get(key, self.default)
        if chosen is None:
            raise GbcsEncodeError(self.name, f"no layout for {self.selector}={key}")
        return chosen

    def read(self, r: Reader, ctx: Fields) -> Any:
        try:
            chosen = self._pick(ctx)
        except GbcsEncodeError:
            raise r.fail(self.name, f"no layout for {self.selector}={ctx[self.selector]}") from None
        return chosen.read(r, ctx)

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        self._pick(ctx).write(value, out, ctx)


@dataclass(frozen=True, slots=True)
class Optional(FieldType):
    """Present only if bytes remain (trailing fields added in later ZSE versions)."""

    element: FieldType
    name: str = "optional"

    def read(self, r: Reader, ctx: Fields) -> Any:
        return None if r.at_end() else self.element.read(r, ctx)

    def write(self, value: Any, out: bytearray, ctx: Mapping[str, Any]) -> None:
        if value is not None:
            self.element.write(value, out, ctx)


U8, U16, U24, U32, U48, U64 = (UInt(n) for n in (1, 2, 3, 4, 6, 8))
S8, S16, S24, S32, S48 = (SInt(n) for n in (1, 2, 3, 4, 6))
ENUM8, ENUM16 = UInt(1, "enum8"), UInt(2, "enum16")
MAP8, MAP16, MAP24, MAP32 = (UInt(n, f"bitmap{8 * n}") for n in (1, 2, 3, 4))
UTC = UInt(4, "utc_time")  # seconds since 2000-01-01 00:00 UTC
OCTSTR = OctStr()
DATE = ZDate()


def struct_of(*fields: tuple[str, FieldType]) -> Struct:
    return Struct(tuple(fields))


# -- self-describing attribute values ------------------------------------------------


@dataclass(slots=True)
class ZclValue:
    """An attribute value with its ZCL type id (as in attribute records)."""

    type_id: int
    value: Any

    @property
    def type_name(self) -> str:
        spec = ZCL_TYPES.get(self.type_id)
        return spec.name if spec else f"type-0x{self.type_id:02X}"


@dataclass(frozen=True, slots=True)
class ZclType:
    type_id: int
    name: str
    read: Callable[[Reader], Any]
    write: Callable[[Any, bytearray], None]


def _uint_type(tid: int, name: str, size: int) -> ZclType:
    def read(r: Reader) -> int:
        return int.from_bytes(r.take(size, name), "little")

    def write(v: Any, out: bytearray) -> None:
        out += int(v).to_bytes(size, "little")

    return ZclType(tid, name, read, write)


def _sint_type(tid: int, name: str, size: int) -> ZclType:
    def read(r: Reader) -> int:
        return int.from_bytes(r.take(size, name), "little", signed=True)

    def write(v: Any, out: bytearray) -> None:
        out += int(v).to_bytes(size, "little", signed=True)

    return ZclType(tid, name, read, write)


def _str_type(tid: int, name: str, prefix: int) -> ZclType:
    field = OctStr(prefix, name)

    def read(r: Reader) -> bytes | None:
        return field.read(r, {})

    def write(v: Any, out: bytearray) -> None:
        field.write(v, out, {})

    return ZclType(tid, name, read, write)


def _float_type(tid: int, name: str, fmt: str) -> ZclType:
    """Floats read as float; a value a float cannot carry (NaN payload) stays bytes."""
    size = struct.calcsize(fmt)

    def read(r: Reader) -> float | bytes:
        raw = r.take(size, name)
        value = float(struct.unpack(fmt, raw)[0])
        return value if struct.pack(fmt, value) == raw else raw

    def write(v: Any, out: bytearray) -> None:
        out += v if isinstance(v, bytes) else struct.pack(fmt, v)

    return ZclType(tid, name, read, write)


def _composite_type(tid: int, name: str) -> ZclType:
    """array/set/bag: element type, 2-byte count, values. structure: count, (type, value)*."""

    def read(r: Reader) -> Any:
        r.enter(name, 16)
        if tid == 0x4C:
            n = int.from_bytes(r.take(2, name + ".count"), "little")
            items: Any = [read_zcl_value(r) for _ in range(n)]
        else:
            elem = r.u8(name + ".element_type")
            n = int.from_bytes(r.take(2, name + ".count"), "little")
            spec = ZCL_TYPES.get(elem)
            if spec is None:
                raise r.fail(name + ".element_type", f"unknown ZCL type 0x{elem:02X}", r.pos - 1)
            items = ZclValue(elem, [spec.read(r) for _ in range(n)])
        r.depth -= 1
        return items

    def write(v: Any, out: bytearray) -> None:
        if tid == 0x4C:
            out += len(v).to_bytes(2, "little")
            for item in v:
                write_zcl_value(item, out)
            return
        out.append(v.type_id)
        out += len(v.value).to_bytes(2, "little")
        spec = ZCL_TYPES[v.type_id]
        for item in v.value:
            spec.write(item, out)

    return ZclType(tid, name, read, write)


def _raw_type(tid: int, name: str, size: int) -> ZclType:
    def read(r: Reader) -> bytes:
        return r.take(size, name)

    def write(v: Any, out: bytearray) -> None:
        raw = bytes(v)
        if len(raw) != size:
            raise GbcsEncodeError(name, f"needs {size} bytes")
        out += raw

    return ZclType(tid, name, read, write)


def _build_types() -> dict[int, ZclType]:
    types: list[ZclType] = [ZclType(0x00, "nodata", lambda r: None, lambda v, out: None)]
    for i in range(8):
        types.append(_raw_type(0x08 + i, f"data{8 * (i + 1)}", i + 1))
        types.append(_uint_type(0x18 + i, f"map{8 * (i + 1)}", i + 1))
        types.append(_uint_type(0x20 + i, f"uint{8 * (i + 1)}", i + 1))
        types.append(_sint_type(0x28 + i, f"int{8 * (i + 1)}", i + 1))
    types += [
        _uint_type(0x10, "bool", 1),
        _uint_type(0x30, "enum8", 1),
        _uint_type(0x31, "enum16", 2),
        _raw_type(0x38, "semi", 2),
        _float_type(0x39, "single", "<f"),
        _float_type(0x3A, "double", "<d"),
        _str_type(0x41, "octstr", 1),
        _str_type(0x42, "string", 1),
        _str_type(0x43, "octstr16", 2),
        _str_type(0x44, "string16", 2),
        _composite_type(0x48, "array"),
        _composite_type(0x4C, "struct"),
        _composite_type(0x50, "set"),
        _composite_type(0x51, "bag"),
        _uint_type(0xE0, "ToD", 4),
        _uint_type(0xE1, "date", 4),
        _uint_type(0xE2, "UTC", 4),
        _uint_type(0xE8, "clusterId", 2),
        _uint_type(0xE9, "attribId", 2),
        _uint_type(0xEA, "bacOID", 4),
        _raw_type(0xF0, "EUI64", 8),
        _raw_type(0xF1, "key128", 16),
        ZclType(0xFF, "unk", lambda r: None, lambda v, out: None),
    ]
    table: dict[int, ZclType] = {}
    for t in types:
        if t.type_id in table:
            raise TypeError(f"duplicate ZCL type id 0x{t.type_id:02X}")
        table[t.type_id] = t
    return table


ZCL_TYPES: dict[int, ZclType] = _build_types()


def read_zcl_value(r: Reader) -> ZclValue:
    start = r.pos
    tid = r.u8("data_type")
    spec = ZCL_TYPES.get(tid)
    if spec is None:
        raise r.fail("data_type", f"unknown ZCL type 0x{tid:02X}", start)
    return ZclValue(tid, spec.read(r))


def write_zcl_value(v: ZclValue, out: bytearray) -> None:
    out.append(v.type_id)
    write_typed(v.type_id, v.value, out)


def read_typed(type_id: int, r: Reader) -> Any:
    spec = ZCL_TYPES.get(type_id)
    if spec is None:
        raise r.fail("data_type", f"unknown ZCL type 0x{type_id:02X}")
    return spec.read(r)


def write_typed(type_id: int, value: Any, out: bytearray) -> None:
    spec = ZCL_TYPES.get(type_id)
    if spec is None:
        raise GbcsEncodeError("data_type", f"unknown ZCL type 0x{type_id:02X}")
    try:
        spec.write(value, out)
    except (OverflowError, TypeError, ValueError, struct.error) as exc:
        raise GbcsEncodeError(spec.name, f"cannot encode {value!r}: {exc}") from None


def names(pairs: Sequence[tuple[str, FieldType]]) -> list[str]:
    return [n for n, _ in pairs]
