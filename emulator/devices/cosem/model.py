"""The COSEM object model of a DLMS device: objects, attribute types, factory values.

A model is a table of objects (interface class, OBIS), each with attribute
templates (typed A-XDR values that double as the factory default and as the type
a SET must match), the attributes a remote party may write, and the methods with
their argument and result types. Models are built once per device type and
shared by every device of that type; a device keeps only the values it changed
(`CosemState`), which keeps idle devices small.

Templates are written with a small vocabulary (`U32`, `S(...)`, `A(...)`,
`OS(12)`, ...) that reads like the GBCS data type tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.gbcs.dlms.apdu import Obis
from emulator.gbcs.dlms.axdr import (
    Array,
    Bcd,
    BitString,
    Boolean,
    CompactArray,
    Data,
    DateTime,
    DoubleLong,
    DoubleLongUnsigned,
    Enum,
    Float32,
    Float64,
    Integer,
    Long,
    Long64,
    Long64Unsigned,
    LongUnsigned,
    NullData,
    OctetString,
    Structure,
    TypeDescription,
    Unsigned,
    Utf8String,
    VisibleString,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime

# -- template vocabulary ----------------------------------------------------------------

NULL = NullData()
BOOL = Boolean(False)
U8, U16, U32, U64 = Unsigned(0), LongUnsigned(0), DoubleLongUnsigned(0), Long64Unsigned(0)
I8, I16, I32, I64 = Integer(0), Long(0), DoubleLong(0), Long64(0)
E = Enum(0)
BCD = Bcd(0)
F32, F64 = Float32(0.0), Float64(0.0)
DT = DateTime(DlmsDateTime.never_marker())


def OS(length: int = 0) -> OctetString:
    return OctetString(bytes(length))


def VS(length: int = 0) -> VisibleString:
    return VisibleString(b" " * length)


def UTF8(length: int = 0) -> Utf8String:
    return Utf8String(b" " * length)


def BITS(bits: int) -> BitString:
    return BitString(bits, bytes((bits + 7) // 8))


def S(*items: Data) -> Structure:
    return Structure(list(items))


def A(*items: Data) -> Array:
    return Array(list(items))


def AN(count: int, element: Data) -> Array:
    """An array of `count` elements like `element` (fixed-size register arrays)."""
    return Array([zeroed(element) for _ in range(count)])


def CA(row: Data) -> CompactArray:
    """A compact array (profile buffer) whose rows look like `row`; empty by default."""
    return CompactArray(type_description(row), [])


def default_for(desc: TypeDescription) -> Data:
    """A zero value of a compact-array type description (to build rows)."""
    if desc.tag == Structure.TAG:
        return Structure([default_for(e) for e in desc.elements])
    if desc.tag == Array.TAG:
        return Array([default_for(desc.elements[0]) for _ in range(desc.count)])
    return _SIMPLE_DEFAULTS[desc.tag]


def type_description(value: Data) -> TypeDescription:
    if isinstance(value, Structure):
        return TypeDescription(Structure.TAG, 0, tuple(type_description(i) for i in value.items))
    if isinstance(value, Array):
        if not value.items:
            raise ValueError("an array in a compact-array row needs an element to describe")
        return TypeDescription(Array.TAG, len(value.items), (type_description(value.items[0]),))
    return TypeDescription(value.TAG)


_SIMPLE_DEFAULTS: dict[int, Data] = {
    d.TAG: d
    for d in (
        NULL,
        BOOL,
        U8,
        U16,
        U32,
        U64,
        I8,
        I16,
        I32,
        I64,
        E,
        BCD,
        F32,
        F64,
        DT,
        OctetString(b""),
        VisibleString(b""),
        Utf8String(b""),
        BitString(0, b""),
    )
}

# -- shapes ------------------------------------------------------------------------------


def same_shape(template: Data, value: Data) -> bool:
    """Whether `value` has the type of `template` (arrays: elements like the first).

    Every SET and ACTION argument is checked this way (tariff tables have hundreds
    of nodes), so the tag decides first and plain loops replace generators; the
    A-XDR node classes have no subclasses, so exact type tests stand for isinstance.
    """
    tag = template.TAG
    if tag != value.TAG:
        return False
    if tag == 0x02:
        if type(template) is Structure and type(value) is Structure:
            items = template.items
            if len(items) != len(value.items):
                return False
            for t, v in zip(items, value.items, strict=True):
                if not same_shape(t, v):
                    return False
        return True
    if tag == 0x01:
        if type(template) is Array and type(value) is Array:
            if not template.items:
                return True
            first = template.items[0]
            for v in value.items:
                if not same_shape(first, v):
                    return False
        return True
    if isinstance(template, CompactArray) and isinstance(value, CompactArray):
        return template.description == value.description
    return True


def zeroed(template: Data) -> Data:
    """A fresh copy of a template (templates are shared and must never be mutated)."""
    if isinstance(template, Structure):
        return Structure([zeroed(i) for i in template.items])
    if isinstance(template, Array):
        return Array([zeroed(i) for i in template.items])
    if isinstance(template, CompactArray):
        return CompactArray(template.description, [])
    return template


# -- objects -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Obj:
    class_id: int
    obis: Obis
    attributes: Mapping[int, Data]
    writable: frozenset[int] = frozenset()
    methods: Mapping[int, tuple[Data, Data]] = field(default_factory=dict)
    selectors: frozenset[tuple[int, int]] = frozenset()
    protected: bool = False  # read through data protection (sensitive data)
    name: str = ""
    alternatives: Mapping[int, tuple[Data, ...]] = field(default_factory=dict)

    def accepts(self, attribute: int, value: Data) -> bool:
        """Whether a SET value has the attribute's type (or one of its CHOICE types)."""
        template = self.attributes.get(attribute)
        if template is not None and same_shape(template, value):
            return True
        return any(same_shape(t, value) for t in self.alternatives.get(attribute, ()))

    @property
    def key(self) -> tuple[int, bytes]:
        return (self.class_id, bytes(self.obis))


def obj(
    class_id: int,
    obis: str,
    attributes: Mapping[int, Data],
    *,
    writable: Iterable[int] = (),
    methods: Mapping[int, tuple[Data, Data]] | None = None,
    selectors: Iterable[tuple[int, int]] = (),
    protected: bool = False,
    name: str = "",
    alternatives: Mapping[int, tuple[Data, ...]] | None = None,
) -> Obj:
    return Obj(
        class_id,
        Obis(obis),
        dict(attributes),
        frozenset(writable),
        dict(methods or {}),
        frozenset(selectors),
        protected,
        name,
        dict(alternatives or {}),
    )


class CosemModel:
    """Objects of one device type, by (class id, OBIS); shared by all its devices."""

    def __init__(self, objects: Iterable[Obj]) -> None:
        self.objects: dict[tuple[int, bytes], Obj] = {}
        for o in objects:
            if o.key in self.objects:
                raise TypeError(f"duplicate COSEM object {o.class_id} {o.obis}")
            self.objects[o.key] = o

    def get(self, class_id: int, obis: bytes) -> Obj | None:
        return self.objects.get((class_id, bytes(obis)))

    def __len__(self) -> int:
        return len(self.objects)


@dataclass(slots=True)
class CosemState:
    """What one device changed from its model's factory values."""

    values: dict[tuple[int, bytes, int], Data] = field(default_factory=dict)

    def get(self, o: Obj, attribute: int) -> Data | None:
        found = self.values.get((o.class_id, bytes(o.obis), attribute))
        if found is not None:
            return found
        return o.attributes.get(attribute)

    def set(self, o: Obj, attribute: int, value: Data) -> None:
        self.values[(o.class_id, bytes(o.obis), attribute)] = value

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"class": c, "obis": str(Obis(obis)), "attribute": a, "value": v.encode().hex()}
            for (c, obis, a), v in sorted(self.values.items())
        ]

    def load_json(self, data: list[dict[str, Any]]) -> None:
        from emulator.gbcs.dlms.axdr import decode_data

        self.values = {
            (int(i["class"]), bytes(Obis(i["obis"])), int(i["attribute"])): decode_data(
                bytes.fromhex(i["value"])
            )
            for i in data
        }


__all__ = [
    "BCD",
    "BITS",
    "BOOL",
    "CA",
    "DT",
    "F32",
    "F64",
    "I8",
    "I16",
    "I32",
    "I64",
    "NULL",
    "OS",
    "U8",
    "U16",
    "U32",
    "U64",
    "UTF8",
    "VS",
    "A",
    "CosemModel",
    "CosemState",
    "E",
    "Obj",
    "S",
    "default_for",
    "obj",
    "same_shape",
    "type_description",
    "zeroed",
]
