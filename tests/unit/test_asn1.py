"""ASN.1 DER payloads: golden hex both ways, exact re-encoding of non-DER forms."""

from __future__ import annotations

import pytest

from emulator.errors import GbcsDecodeError, GbcsEncodeError, TruncatedError
from emulator.gbcs.asn1 import (
    MAX_DEPTH,
    Der,
    DerBitString,
    DerBoolean,
    DerConstructed,
    DerEnumerated,
    DerInteger,
    DerNull,
    DerObjectIdentifier,
    DerOctetString,
    DerPrimitive,
    DerSequence,
    DerString,
    decode_der,
)
from emulator.gbcs.frame import Cra
from emulator.gbcs.payload import PayloadKind, decode_payload


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


GT = b"20240517123456Z"
HASH = bytes(range(32))


def seq_long_form(items: list[Der]) -> DerConstructed:
    node = DerSequence(items)
    node.length_octets = 2
    return node


GOLDEN: list[tuple[str, str, Der]] = [
    ("integer-0", "02 01 00", DerInteger(0)),
    ("integer-127", "02 01 7F", DerInteger(127)),
    ("integer-128", "02 02 0080", DerInteger(128)),
    ("integer-256", "02 02 0100", DerInteger(256)),
    ("integer-minus-1", "02 01 FF", DerInteger(-1)),
    ("integer-minus-128", "02 01 80", DerInteger(-128)),
    ("integer-minus-129", "02 02 FF7F", DerInteger(-129)),
    ("integer-2^64-1", "02 09 00FFFFFFFFFFFFFFFF", DerInteger((1 << 64) - 1)),
    ("integer-alert-code", "02 03 008F66", DerInteger(0x8F66)),
    ("integer-non-minimal", "02 02 0005", DerInteger(5, width=2)),
    ("integer-non-minimal-negative", "02 02 FFFF", DerInteger(-1, width=2)),
    ("octet-string", "04 03 010203", DerOctetString(b"\x01\x02\x03")),
    ("octet-string-id", "04 08 00DB1234567890A0", DerOctetString(h("00DB1234567890A0"))),
    ("null", "05 00", DerNull()),
    ("boolean-true", "01 01 FF", DerBoolean(True)),
    ("boolean-false", "01 01 00", DerBoolean(False)),
    ("boolean-non-der-kept", "01 01 01", DerPrimitive(b"\x01", b"\x01")),
    ("oid-ecdsa-sha256", "06 08 2A8648CE3D040302", DerObjectIdentifier("1.2.840.10045.4.3.2")),
    ("oid-cn", "06 03 550403", DerObjectIdentifier("2.5.4.3")),
    ("oid-large-first-arc", "06 02 8837", DerObjectIdentifier("2.999")),
    ("oid-non-minimal-kept", "06 03 2B 80 01", DerPrimitive(b"\x06", h("2B8001"))),
    ("bit-string", "03 02 07 80", DerBitString(7, b"\x80")),
    ("bit-string-empty", "03 01 00", DerBitString(0, b"")),
    ("enumerated", "0A 01 03", DerEnumerated(3)),
    ("enumerated-non-minimal-kept", "0A 02 0003", DerPrimitive(b"\x0a", h("0003"))),
    ("generalized-time", "18 0F " + GT.hex(), DerString(0x18, GT)),
    ("utf8-string", "0C 02 C3A9", DerString(0x0C, "é".encode())),
    ("context-primitive", "80 02 0102", DerPrimitive(b"\x80", b"\x01\x02")),
    ("context-constructed", "A1 03 020101", DerConstructed(b"\xa1", [DerInteger(1)])),
    ("high-tag-number", "9F 1F 01 AA", DerPrimitive(b"\x9f\x1f", b"\xaa")),
    ("set", "31 03 020101", DerConstructed(b"\x31", [DerInteger(1)])),
    ("sequence-empty", "30 00", DerSequence([])),
    (
        "sequence",
        "30 06 020105 0401AA",
        DerSequence([DerInteger(5), DerOctetString(b"\xaa")]),
    ),
    ("sequence-81-length-kept", "30 81 03 020105", seq_long_form([DerInteger(5)])),
    (
        "nested-long-forms-kept",
        "30 81 05 04 81 02 AABB",
        seq_long_form([DerOctetString(b"\xaa\xbb", length_octets=2)]),
    ),
    (
        "cs06-command",
        # SEQUENCE { OCTET STRING hash(32), INTEGER counter, GeneralizedTime }
        "30 36 04 20 " + HASH.hex() + " 02 01 05 18 0F " + GT.hex(),
        DerSequence([DerOctetString(HASH), DerInteger(5), DerString(0x18, GT)]),
    ),
    (
        "alert",
        "30 16 02 03 008F66 18 0F " + GT.hex(),
        DerSequence([DerInteger(0x8F66), DerString(0x18, GT)]),
    ),
]
IDS = [name for name, _, _ in GOLDEN]


@pytest.mark.parametrize(("hex_in", "node"), [(x, n) for _, x, n in GOLDEN], ids=IDS)
def test_decode(hex_in: str, node: Der) -> None:
    assert decode_der(h(hex_in)) == node


@pytest.mark.parametrize(("hex_in", "node"), [(x, n) for _, x, n in GOLDEN], ids=IDS)
def test_encode(hex_in: str, node: Der) -> None:
    assert node.encode() == h(hex_in)


@pytest.mark.parametrize("hex_in", [x for _, x, _ in GOLDEN], ids=IDS)
def test_decode_then_encode_is_identity(hex_in: str) -> None:
    assert decode_der(h(hex_in)).encode() == h(hex_in)


@pytest.mark.parametrize("hex_in", [x for _, x, _ in GOLDEN], ids=IDS)
def test_every_truncation_raises(hex_in: str) -> None:
    raw = h(hex_in)
    for cut in range(len(raw)):
        with pytest.raises(GbcsDecodeError):
            decode_der(raw[:cut])


def test_sequence_long_form_flag_only_when_not_minimal() -> None:
    assert decode_der(h("30 03 020105")).length_octets is None
    assert decode_der(h("30 81 03 020105")).length_octets == 2
    assert decode_der(h("30 82 0003 020105")).length_octets == 3


def test_type_names() -> None:
    assert decode_der(h("30 00")).type_name == "SEQUENCE"  # type: ignore[attr-defined]
    assert decode_der(h("31 00")).type_name == "SET"  # type: ignore[attr-defined]
    assert decode_der(h("A1 00")).type_name == "[1]"  # type: ignore[attr-defined]
    assert decode_der(h("80 00")).type_name == "[0]"  # type: ignore[attr-defined]
    assert decode_der(h("61 00")).type_name == "[APPLICATION 1]"  # type: ignore[attr-defined]
    assert decode_der(h("9F 1F 00")).type_name == "[31]"  # type: ignore[attr-defined]
    gt = decode_der(h("18 0F " + GT.hex()))
    assert isinstance(gt, DerString)
    assert gt.type_name == "GeneralizedTime"
    assert gt.text == "20240517123456Z"


def test_asn1_payload_dispatch() -> None:
    for raw in (h("02 01 00"), h("04 08 00DB1234567890A0"), h("05 00"), h("30 00")):
        decoded = decode_payload(raw, Cra.RESPONSE, 0x0008)
        assert decoded.kind is PayloadKind.ASN1
        assert decoded.encode() == raw


# -- malformed input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hex_in", "field"),
    [
        ("02 00", "asn1.INTEGER"),
        ("01 02 0000", "asn1.BOOLEAN"),
        ("01 00", "asn1.BOOLEAN"),
        ("05 01 00", "asn1.NULL"),
        ("03 00", "asn1.BIT STRING"),
        ("03 01 08", "asn1.BIT STRING"),
        ("06 00", "asn1.OBJECT IDENTIFIER"),
        ("06 01 86", "asn1.OBJECT IDENTIFIER"),
    ],
)
def test_bad_primitive_contents(hex_in: str, field: str) -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_der(h(hex_in))
    assert info.value.field == field
    assert info.value.offset == 0


def test_error_offset_inside_a_sequence() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_der(h("30 05 0401AA 0200"))
    assert info.value.field == "asn1.content.INTEGER"
    assert info.value.offset == 5


def test_empty_and_trailing() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_der(b"")
    assert info.value.field == "asn1"
    with pytest.raises(GbcsDecodeError) as info:
        decode_der(h("05 00 00"))
    assert info.value.offset == 2
    assert not isinstance(info.value, TruncatedError)


def test_indefinite_length_rejected() -> None:
    with pytest.raises(GbcsDecodeError, match="0x80"):
        decode_der(h("30 80 05 00 00 00"))


def test_tag_number_too_long() -> None:
    with pytest.raises(GbcsDecodeError, match="tag number too long"):
        decode_der(h("1F 81 81 81 81 81 01 00"))


def test_nesting_limit() -> None:
    def nested(depth: int) -> bytes:
        raw = h("05 00")
        for _ in range(depth):
            raw = b"\x30" + bytes((len(raw),)) + raw if len(raw) < 128 else b""
        return raw

    ok = nested(MAX_DEPTH)
    assert decode_der(ok).encode() == ok
    with pytest.raises(GbcsDecodeError, match="nested too deeply"):
        decode_der(nested(MAX_DEPTH + 1))


def test_integer_encoding_errors() -> None:
    with pytest.raises(GbcsEncodeError):
        DerInteger(256, width=1).encode()
    with pytest.raises(GbcsEncodeError):
        DerObjectIdentifier("1").encode()
