"""A-XDR Data: every type as golden hex, decoded and encoded."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from emulator.errors import GbcsDecodeError, GbcsEncodeError, TruncatedError
from emulator.gbcs.dlms.axdr import (
    DATA_TYPES,
    Array,
    Bcd,
    BitString,
    Boolean,
    CompactArray,
    Data,
    Date,
    DateTime,
    DontCare,
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
    Time,
    TypeDescription,
    Unsigned,
    Utf8String,
    VisibleString,
    decode_data,
    encode_data,
)
from emulator.gbcs.dlms.datetime import DlmsDate, DlmsDateTime, DlmsTime

TimeLimit = Callable[[float], AbstractContextManager[None]]


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


DT = DlmsDateTime(2024, 5, 17, 5, 12, 34, 56, 0, 0x8000, 0xFF)
LONG_OCTETS = bytes(range(200))
LONGER_OCTETS = bytes(300)

GOLDEN: list[tuple[str, str, Data]] = [
    ("null", "00", NullData()),
    ("dont-care", "FF", DontCare()),
    ("array-empty", "01 00", Array([])),
    ("array", "01 02 11 01 11 02", Array([Unsigned(1), Unsigned(2)])),
    (
        "structure",
        "02 03 12 0102 09 02 AABB 02 00",
        Structure([LongUnsigned(0x0102), OctetString(b"\xaa\xbb"), Structure([])]),
    ),
    ("boolean-false", "03 00", Boolean(False)),
    ("boolean-true", "03 01", Boolean(True)),
    ("boolean-ff-kept", "03 FF", Boolean(True, 0xFF)),
    ("boolean-other-octet", "03 5A", Boolean(True, 0x5A)),
    ("bit-string-0", "04 00", BitString(0, b"")),
    ("bit-string-10", "04 0A FF C0", BitString(10, b"\xff\xc0")),
    ("bit-string-8", "04 08 A5", BitString(8, b"\xa5")),
    ("double-long", "05 FFFFFFFE", DoubleLong(-2)),
    ("double-long-max", "05 7FFFFFFF", DoubleLong(0x7FFFFFFF)),
    ("double-long-unsigned", "06 00010000", DoubleLongUnsigned(65536)),
    ("double-long-unsigned-max", "06 FFFFFFFF", DoubleLongUnsigned(0xFFFFFFFF)),
    ("octet-string", "09 03 010203", OctetString(b"\x01\x02\x03")),
    ("octet-string-empty", "09 00", OctetString(b"")),
    ("octet-string-81", "09 81C8 " + LONG_OCTETS.hex(), OctetString(LONG_OCTETS)),
    ("octet-string-82", "09 82012C " + LONGER_OCTETS.hex(), OctetString(LONGER_OCTETS)),
    ("visible-string", "0A 05 68656C6C6F", VisibleString(b"hello")),
    ("utf8-string", "0C 02 C3A9", Utf8String("é".encode())),
    ("bcd", "0D 12", Bcd(0x12)),
    ("integer", "0F 80", Integer(-128)),
    ("integer-positive", "0F 7F", Integer(127)),
    ("long", "10 FF38", Long(-200)),
    ("unsigned", "11 FF", Unsigned(255)),
    ("long-unsigned", "12 1234", LongUnsigned(0x1234)),
    ("long64", "14 FFFFFFFFFFFFFFFF", Long64(-1)),
    ("long64-unsigned", "15 0000000100000000", Long64Unsigned(1 << 32)),
    ("enum", "16 03", Enum(3)),
    ("float32", "17 3FC00000", Float32(1.5)),
    ("float32-negative", "17 C1200000", Float32(-10.0)),
    ("float64", "18 400C000000000000", Float64(3.5)),
    ("date-time", "19 07E8 05 11 05 0C 22 38 00 8000 FF", DateTime(DT)),
    ("date", "1A 07E8 05 11 05", Date(DlmsDate(2024, 5, 17, 5))),
    ("date-unspecified", "1A FFFF FF FF FF", Date(DlmsDate(0xFFFF, 0xFF, 0xFF, 0xFF))),
    ("time", "1B 0C 22 38 00", Time(DlmsTime(12, 34, 56, 0))),
    (
        "compact-array-simple",
        "13 12 04 0001 0002",
        CompactArray(TypeDescription(0x12), [LongUnsigned(1), LongUnsigned(2)]),
    ),
    ("compact-array-empty", "13 11 00", CompactArray(TypeDescription(0x11), [])),
    (
        "compact-array-of-strings",
        "13 0A 05 02 6869 01 21",
        CompactArray(TypeDescription(0x0A), [VisibleString(b"hi"), VisibleString(b"!")]),
    ),
    (
        "compact-array-of-arrays",
        "13 01 0002 11 04 01020304",
        CompactArray(
            TypeDescription(0x01, 2, (TypeDescription(0x11),)),
            [Array([Unsigned(1), Unsigned(2)]), Array([Unsigned(3), Unsigned(4)])],
        ),
    ),
    (
        "compact-array-of-structures",
        "13 02 02 11 12 06 01 0002 03 0004",
        CompactArray(
            TypeDescription(0x02, 0, (TypeDescription(0x11), TypeDescription(0x12))),
            [
                Structure([Unsigned(1), LongUnsigned(2)]),
                Structure([Unsigned(3), LongUnsigned(4)]),
            ],
        ),
    ),
    (
        "compact-array-nested",
        # structure { array[2] of unsigned, date-time } : 2 + 12 bytes per element
        "13 02 02 01 0002 11 19 0E 0102 07E8051105 0C223800 8000FF",
        CompactArray(
            TypeDescription(
                0x02,
                0,
                (
                    TypeDescription(0x01, 2, (TypeDescription(0x11),)),
                    TypeDescription(0x19),
                ),
            ),
            [Structure([Array([Unsigned(1), Unsigned(2)]), DateTime(DT)])],
        ),
    ),
    (
        "gbcs-sensitive-structure",
        # protection parameters + blob, as GBCS sensitive reads carry them
        "02 02 01 01 02 02 16 02 02 01 09 00 09 03 31AABB",
        Structure(
            [
                Array([Structure([Enum(2), Structure([OctetString(b"")])])]),
                OctetString(b"\x31\xaa\xbb"),
            ]
        ),
    ),
]
IDS = [name for name, _, _ in GOLDEN]


@pytest.mark.parametrize(("hex_in", "node"), [(x, n) for _, x, n in GOLDEN], ids=IDS)
def test_decode(hex_in: str, node: Data) -> None:
    assert decode_data(h(hex_in)) == node


@pytest.mark.parametrize(("hex_in", "node"), [(x, n) for _, x, n in GOLDEN], ids=IDS)
def test_encode(hex_in: str, node: Data) -> None:
    assert encode_data(node) == h(hex_in)
    assert node.encode() == h(hex_in)


def test_every_data_type_has_a_golden_vector() -> None:
    covered = {type(node) for _, _, node in GOLDEN}
    assert set(DATA_TYPES.values()) <= covered


def test_boolean_keeps_octet_only_when_consistent() -> None:
    assert Boolean(False, 0xFF).encode() == h("03 00")
    assert Boolean(True, 0x00).encode() == h("03 01")
    assert decode_data(h("03 FF")).value is True


def test_string_text_views() -> None:
    assert VisibleString(b"hello").text == "hello"
    assert Utf8String("é".encode()).text == "é"
    assert VisibleString(b"\xff").text == "\ufffd"  # bytes survive, text replaces


def test_float_values() -> None:
    value = decode_data(h("17 7F800000"))
    assert isinstance(value, Float32) and math.isinf(value.value)
    assert decode_data(h("18 BFF0000000000000")) == Float64(-1.0)


@pytest.mark.parametrize(
    "hex_in",
    ["17 7F800001", "17 FF800001", "17 7FC00001", "18 7FF0000000000001", "18 FFF8000000000001"],
)
def test_nan_payloads_round_trip(hex_in: str) -> None:
    """A signalling NaN would come back quieted through a Python float: raw bytes kept."""
    raw = h(hex_in)
    node = decode_data(raw)
    assert isinstance(node, Float32 | Float64) and math.isnan(node.value)
    assert node.encode() == raw


def test_ordinary_floats_keep_no_raw_bytes() -> None:
    node = decode_data(h("17 3FC00000"))
    assert node == Float32(1.5) and node.raw is None  # type: ignore[union-attr]


def test_date_time_markers() -> None:
    now = DlmsDateTime.now_marker()
    never = DlmsDateTime.never_marker()
    assert now.encode() == h("0000 00 00 00 00 00 00 00 8000 FF")
    assert never.encode() == h("FFFF FF FF FF FF FF FF FF 8000 FF")
    assert now.is_now_marker and not now.is_never_marker
    assert never.is_never_marker and not never.is_now_marker
    assert str(now) == "now" and str(never) == "never"
    assert now.to_datetime() is None and never.to_datetime() is None
    assert DlmsDateTime.from_bytes(now.encode()) == now


def test_date_time_deviation_is_minutes_from_local_to_utc() -> None:
    local = DlmsDateTime(2024, 5, 17, 5, 12, 0, 0, 0, 0xFFC4, 0)  # deviation -60
    at = local.to_datetime()
    assert at is not None and at.isoformat() == "2024-05-17T11:00:00+00:00"


def test_date_time_from_bytes_rejects_extra() -> None:
    with pytest.raises(GbcsDecodeError):
        DlmsDateTime.from_bytes(bytes(13))
    with pytest.raises(TruncatedError):
        DlmsDateTime.from_bytes(bytes(11))


# -- malformed input ---------------------------------------------------------------------


@pytest.mark.parametrize("tag", [0x07, 0x08, 0x0B, 0x0E, 0x1C, 0x80, 0xFE])
def test_unknown_tag_names_the_field(tag: int) -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_data(bytes((tag,)))
    assert not isinstance(info.value, TruncatedError)
    assert info.value.field.endswith("data.tag")
    assert info.value.offset == 0
    assert f"0x{tag:02X}" in str(info.value)


def test_unknown_tag_inside_a_structure_gives_its_offset() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_data(h("02 02 11 05 07"))
    assert info.value.field.endswith("data.tag")
    assert info.value.offset == 4


@pytest.mark.parametrize("type_tag", ["07", "13", "1C", "FE"])
def test_unknown_compact_array_type(type_tag: str) -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_data(h(f"13 {type_tag} 00"))
    assert "compact-array.type" in info.value.field
    assert info.value.offset == 1


def test_compact_array_contents_not_a_whole_number_of_elements() -> None:
    with pytest.raises(TruncatedError) as info:
        decode_data(h("13 12 03 0001 00"))
    assert "compact-array.contents" in info.value.field


def test_compact_type_description_nesting_limit() -> None:
    desc = "02 01 " * 10 + "11"
    with pytest.raises(GbcsDecodeError, match="nested too deeply"):
        decode_data(h(f"13 {desc} 01 05"))


def test_trailing_bytes_rejected() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_data(h("00 00"))
    assert info.value.offset == 1
    assert "trailing" in str(info.value)


def test_non_minimal_counts_rejected() -> None:
    with pytest.raises(GbcsDecodeError, match="minimal"):
        decode_data(h("09 81 03 010203"))


@pytest.mark.parametrize(
    "hex_in",
    [
        "",
        "01",
        "01 02 11 01",
        "04 0A FF",
        "05 000000",
        "09 05 0102",
        "12 01",
        "15 00000000000000",
        "17 3FC000",
        "19 07E8",
        "13 01 00",
        "13 01 0002 11 02 01",
    ],
)
def test_truncated_values(hex_in: str) -> None:
    with pytest.raises(TruncatedError):
        decode_data(h(hex_in))


@pytest.mark.parametrize(("name", "hex_in"), [(n, x) for n, x, _ in GOLDEN], ids=IDS)
def test_every_truncation_of_golden_values(name: str, hex_in: str) -> None:
    raw = h(hex_in)
    for cut in range(len(raw)):
        with pytest.raises(GbcsDecodeError):
            decode_data(raw[:cut])


# -- encoding errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "node",
    [
        Unsigned(256),
        Unsigned(-1),
        Integer(128),
        Long(1 << 15),
        LongUnsigned(1 << 16),
        DoubleLong(1 << 31),
        DoubleLongUnsigned(-1),
        Long64(1 << 63),
        Long64Unsigned(1 << 64),
        Enum(256),
        BitString(10, b"\x00"),
        Date(DlmsDate(0x10000, 1, 1, 1)),
        Time(DlmsTime(256, 0, 0, 0)),
    ],
)
def test_out_of_range_values_raise_encode_error(node: Data) -> None:
    with pytest.raises(GbcsEncodeError):
        node.encode()


@pytest.mark.parametrize(
    ("desc", "values"),
    [
        (TypeDescription(0x11), [LongUnsigned(1)]),
        (TypeDescription(0x01, 2, (TypeDescription(0x11),)), [Array([Unsigned(1)])]),
        (TypeDescription(0x02, 0, (TypeDescription(0x11),)), [Structure([])]),
    ],
)
def test_compact_array_values_must_match_description(
    desc: TypeDescription, values: list[Data]
) -> None:
    with pytest.raises(GbcsEncodeError):
        CompactArray(desc, values).encode()


# -- hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hex_in",
    [
        "13 00 01 00",  # null-data elements
        "13 FF 01 00",  # dont-care elements
        "13 02 00 01 00",  # empty structures
        "13 01 0000 11 01 00",  # zero-length arrays
    ],
)
def test_compact_array_of_empty_elements_terminates(hex_in: str, time_limit: TimeLimit) -> None:
    """Elements without content bytes cannot fill non-empty contents (must not loop)."""
    with time_limit(1.0), pytest.raises(GbcsDecodeError) as info:
        decode_data(h(hex_in))
    assert "compact-array" in info.value.field


@pytest.mark.parametrize("hex_in", ["13 00 00", "13 02 00 00", "13 01 0000 11 00"])
def test_compact_array_of_empty_elements_with_no_contents(hex_in: str) -> None:
    node = decode_data(h(hex_in))
    assert isinstance(node, CompactArray) and node.values == []
    assert node.encode() == h(hex_in)


@pytest.mark.parametrize("opener", ["01 01", "02 01"])
def test_deep_nesting_is_a_decode_error(opener: str) -> None:
    """Hostile nesting must not exhaust the Python stack (RecursionError)."""
    with pytest.raises(GbcsDecodeError, match="nested deeper than 100 levels"):
        decode_data(h(opener * 5000 + "00"))


@pytest.mark.parametrize("opener", ["01 01", "02 01"])
def test_nesting_limit_boundary(opener: str) -> None:
    assert decode_data(h(opener * 100 + "00")).encode() == h(opener * 100 + "00")
    with pytest.raises(GbcsDecodeError):
        decode_data(h(opener * 101 + "00"))


def test_nesting_depth_is_not_cumulative_across_siblings() -> None:
    deep = "02 01" * 99 + "00"
    raw = h("01 03" + deep + deep + deep)
    assert decode_data(raw).encode() == raw


def test_moderate_nesting_decodes() -> None:
    raw = h("02 01" * 50 + "11 07")
    node = decode_data(raw)
    for _ in range(50):
        assert isinstance(node, Structure)
        node = node.items[0]
    assert node == Unsigned(7)


@pytest.mark.parametrize("kind", [Array, Structure])
@pytest.mark.parametrize(("count", "length"), [(127, "7F"), (128, "8180"), (300, "82012C")])
def test_item_counts_either_side_of_the_short_length_form(
    kind: type[Array] | type[Structure], count: int, length: str
) -> None:
    node = kind([Unsigned(i % 256) for i in range(count)])
    raw = node.encode()
    assert raw.hex().upper().startswith(f"{kind.TAG:02X}{length}11")
    assert decode_data(raw) == node
