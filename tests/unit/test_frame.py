"""GBCS frames: golden messages written by hand from the layout, both directions.

Layout (GBCS section 4 as documented in emulator/gbcs/frame.py)::

    DD 00 00 00 00 00 00 <BER L> 11 00000000 | DF ... | MAC(12)      L = 5 + len(DF..sig) + 12
    DF 09 <CRA> <counter 8> 08 <orig 8> 08 <recip 8> <00 | 0C+12>
       <BER len> other-information <BER len> payload [<00 | 40 + r||s>]
"""

from __future__ import annotations

import struct

import pytest

from emulator.errors import GbcsDecodeError, GbcsEncodeError, TruncatedError
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import (
    Cra,
    GbcsMessage,
    GroupingHeader,
    OtherInformation,
    decode_message,
    mac_aad,
    wrap_mac_header,
)

S = "90B3D51F30010000"  # supplier
D = "00DB1234567890A0"  # device
ACB = "90B3D51F30000002"
SUP, DEV, BROKER = Eui64(S), Eui64(D), Eui64(ACB)
MAC = "A0A1A2A3A4A5A6A7A8A9AAAB"
SIG = bytes(range(64)).hex().upper()


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


# -- golden messages ------------------------------------------------------------------------

# Non-critical command, MAC header, signature field 00. Grouping part is 37 bytes,
# so L = 5 + 37 + 12 = 54 = 0x36.
G_NONCRIT = f"DF 09 01 0100000000000123 08 {S} 08 {D} 00 02 0013 02 0500 00"
NONCRIT_CMD = h(f"DD 00 00 00 00 00 00 36 11 00000000 {G_NONCRIT} {MAC}")

# The same command as a DUIS pre-command: no signature field and no MAC header.
PRECOMMAND = h(f"DF 09 01 0100000000000123 08 {S} 08 {D} 00 02 0013 02 0500")

# Response to a critical command: IDs swapped, 12-byte date-time, signed, no MAC.
DT_HEX = "07E8 05 11 05 0C 22 38 00 8000 00"  # 2024-05-17 (Fri) 12:34:56.00, dev unset
DT = DlmsDateTime(2024, 5, 17, 5, 12, 34, 56, 0, 0x8000, 0x00)
SIGNED_RESPONSE = h(
    f"DF 09 02 0100000000000123 08 {D} 08 {S} 0C {DT_HEX} 02 0013 03 020100 40 {SIG}"
)

# Non-critical alert to the supplier naming a party (other-information length 10):
# 11 + 9 + 9 + 1 + 11 + 3 + 1 = 45 grouping bytes, L = 62 = 0x3E.
ALERT_OTHER_10 = h(
    f"DD 00 00 00 00 00 00 3E 11 00000000"
    f" DF 09 03 0000000000000007 08 {D} 08 {S} 00 0A 1001 {S} 02 0500 00 {MAC}"
)

# ACB command on behalf of the supplier (length 18: + RP ID + RP counter):
# 11 + 9 + 9 + 1 + 19 + 3 + 1 = 53, L = 70 = 0x46.
CMD_OTHER_18 = h(
    f"DD 00 00 00 00 00 00 46 11 00000000"
    f" DF 09 01 0200000000000001 08 {ACB} 08 {D} 00"
    f" 12 00C4 {S} 0100000000000099 02 0500 00 {MAC}"
)

# Response to the ACB with a supplementary originator counter (length 26):
# 11 + 9 + 9 + 1 + 27 + 4 + 1 = 62, L = 79 = 0x4F.
RESP_OTHER_26 = h(
    f"DD 00 00 00 00 00 00 4F 11 00000000"
    f" DF 09 02 0200000000000001 08 {D} 08 {ACB} 00"
    f" 1A 0096 {S} 0100000000000099 0100000000000100 03 020100 00 {MAC}"
)

# Pre-command carrying a (stand-in) KA certificate: 2 + 8 + 8 + 120 = 138 = 81 8A.
FAKE_CERT = "3076" + bytes(range(118)).hex()
PRECOMMAND_CERT = h(
    f"DF 09 01 0200000000000002 08 {ACB} 08 {D} 00"
    f" 81 8A 0096 {S} 0100000000000099 {FAKE_CERT} 02 0500"
)

# Critical command with a 200-byte payload: content length 81 C8, grouping part
# 11 + 9 + 9 + 1 + 3 + 2 + 200 + 65 = 300, L = 317 = 82 01 3D.
BIG_PAYLOAD = bytes(i % 251 for i in range(200))
CRIT_CMD_BIG = h(
    f"DD 00 00 00 00 00 00 82 01 3D 11 00000000"
    f" DF 09 01 0100000000000124 08 {S} 08 {D} 00 02 0012 81 C8 {BIG_PAYLOAD.hex()}"
    f" 40 {SIG} {MAC}"
)


def _header(
    cra: Cra,
    counter: int,
    orig: Eui64,
    recip: Eui64,
    other: OtherInformation,
    dt: DlmsDateTime | None = None,
) -> GroupingHeader:
    return GroupingHeader(cra, counter, orig, recip, other, dt)


GOLDEN: list[tuple[str, bytes, GbcsMessage]] = [
    (
        "noncritical-command",
        NONCRIT_CMD,
        GbcsMessage(
            _header(Cra.COMMAND, 0x0100000000000123, SUP, DEV, OtherInformation(0x0013)),
            h("0500"),
            b"",
            h(MAC),
        ),
    ),
    (
        "precommand",
        PRECOMMAND,
        GbcsMessage(
            _header(Cra.COMMAND, 0x0100000000000123, SUP, DEV, OtherInformation(0x0013)),
            h("0500"),
            None,
            None,
        ),
    ),
    (
        "signed-response-with-date-time",
        SIGNED_RESPONSE,
        GbcsMessage(
            _header(Cra.RESPONSE, 0x0100000000000123, DEV, SUP, OtherInformation(0x0013), DT),
            h("020100"),
            h(SIG),
            None,
        ),
    ),
    (
        "alert-other-information-10",
        ALERT_OTHER_10,
        GbcsMessage(
            _header(Cra.ALERT, 7, DEV, SUP, OtherInformation(0x1001, SUP)),
            h("0500"),
            b"",
            h(MAC),
        ),
    ),
    (
        "command-other-information-18",
        CMD_OTHER_18,
        GbcsMessage(
            _header(
                Cra.COMMAND,
                0x0200000000000001,
                BROKER,
                DEV,
                OtherInformation(0x00C4, SUP, 0x0100000000000099),
            ),
            h("0500"),
            b"",
            h(MAC),
        ),
    ),
    (
        "response-other-information-26",
        RESP_OTHER_26,
        GbcsMessage(
            _header(
                Cra.RESPONSE,
                0x0200000000000001,
                DEV,
                BROKER,
                OtherInformation(0x0096, SUP, 0x0100000000000099, 0x0100000000000100),
            ),
            h("020100"),
            b"",
            h(MAC),
        ),
    ),
    (
        "precommand-with-certificate",
        PRECOMMAND_CERT,
        GbcsMessage(
            _header(
                Cra.COMMAND,
                0x0200000000000002,
                BROKER,
                DEV,
                OtherInformation(0x0096, SUP, 0x0100000000000099, None, h(FAKE_CERT)),
            ),
            h("0500"),
            None,
            None,
        ),
    ),
    (
        "critical-command-long-lengths",
        CRIT_CMD_BIG,
        GbcsMessage(
            _header(Cra.COMMAND, 0x0100000000000124, SUP, DEV, OtherInformation(0x0012)),
            BIG_PAYLOAD,
            h(SIG),
            h(MAC),
        ),
    ),
]
IDS = [name for name, _, _ in GOLDEN]


@pytest.mark.parametrize(("raw", "expected"), [(r, m) for _, r, m in GOLDEN], ids=IDS)
def test_decode_golden(raw: bytes, expected: GbcsMessage) -> None:
    msg = decode_message(raw)
    assert msg == expected  # compares header, payload, signature, MAC, SC, IC
    assert msg.header.other == expected.header.other
    assert msg.header.date_time == expected.header.date_time
    assert msg.raw == raw


@pytest.mark.parametrize(("raw", "fields"), [(r, m) for _, r, m in GOLDEN], ids=IDS)
def test_encode_golden(raw: bytes, fields: GbcsMessage) -> None:
    assert fields.encode() == raw


@pytest.mark.parametrize(("raw", "fields"), [(r, m) for _, r, m in GOLDEN], ids=IDS)
def test_spans_match_re_encoding(raw: bytes, fields: GbcsMessage) -> None:
    """signed_data / grouping_bytes / mac_aad from the received bytes equal the encoder's."""
    msg = decode_message(raw)
    assert msg.signed_data() == fields.signed_data()
    assert msg.grouping_bytes() == fields.grouping_bytes()
    assert msg.mac_aad() == fields.mac_aad()


def test_views_of_a_noncritical_command() -> None:
    msg = decode_message(NONCRIT_CMD)
    assert msg.cra is Cra.COMMAND
    assert msg.message_code == 0x0013
    assert msg.counter == 0x0100000000000123
    assert str(msg.originator) == "90-B3-D5-1F-30-01-00-00"
    assert str(msg.recipient) == "00-DB-12-34-56-78-90-A0"
    assert msg.is_maced and not msg.is_signed and not msg.is_precommand
    assert msg.security_control == 0x11
    assert msg.invocation_counter == 0
    assert msg.header.transaction_id == h("01 0100000000000123")
    grouping = h(G_NONCRIT)
    assert msg.grouping_bytes() == grouping
    # signed bytes: after DF up to the last payload byte (no signature-length byte)
    assert msg.signed_data() == grouping[1:-1]
    # MAC AAD: security control, five empty fields, then DF .. signature field
    assert msg.mac_aad() == h("11 00 00 00 00 00") + grouping
    assert mac_aad(0x11, grouping) == msg.mac_aad()


def test_signed_response_views() -> None:
    msg = decode_message(SIGNED_RESPONSE)
    assert msg.is_signed and not msg.is_maced and not msg.is_precommand
    assert msg.header.date_time is not None
    assert msg.header.date_time.to_datetime() is not None
    assert msg.header.date_time.to_datetime().isoformat() == "2024-05-17T12:34:56+00:00"
    # signed bytes exclude DF, the 40 and the signature
    assert msg.signed_data() == SIGNED_RESPONSE[1:-65]


def test_precommand_views_and_without_protection() -> None:
    msg = decode_message(PRECOMMAND)
    assert msg.is_precommand
    assert msg.signature is None and msg.mac is None
    full = decode_message(NONCRIT_CMD)
    assert full.without_protection().encode() == PRECOMMAND


def test_verification_spans_use_received_bytes_not_a_re_encoding() -> None:
    """After decoding, editing the fields must not change what signatures cover."""
    msg = decode_message(SIGNED_RESPONSE)
    before = msg.signed_data()
    msg.payload = b"\x02\x01\x01"
    assert msg.signed_data() == before


def test_wrap_mac_header() -> None:
    assert wrap_mac_header(0x11, 0, h(G_NONCRIT), h(MAC)) == NONCRIT_CMD


def test_precommand_with_real_certificate(pki: object) -> None:
    """A DER certificate of several hundred bytes gives an `82 nn nn` length."""
    from cryptography.hazmat.primitives import serialization

    from emulator.pki.keystore import KeyUsage

    cert = pki.keystore.certificate(SUP, KeyUsage.KEY_AGREEMENT)  # type: ignore[attr-defined]
    der = cert.public_bytes(serialization.Encoding.DER)
    assert len(der) + 18 > 255
    other = OtherInformation(0x0096, SUP, 5, None, der)
    msg = GbcsMessage(_header(Cra.COMMAND, 1, BROKER, DEV, other), h("0500"), None, None)
    raw = msg.encode()
    n = len(der) + 18
    assert raw[30:33] == bytes((0x82, n >> 8, n & 0xFF))
    back = decode_message(raw)
    assert back.header.other.supplementary_ka_certificate == der
    assert back.encode() == raw


def test_content_length_82_form() -> None:
    payload = bytes(300)
    msg = GbcsMessage(
        _header(Cra.COMMAND, 1, SUP, DEV, OtherInformation(0x0012)), payload, None, None
    )
    raw = msg.encode()
    assert raw[30:33] == h("02 0012")
    assert raw[33:36] == h("82 012C")
    assert decode_message(raw).payload == payload


# -- malformed input --------------------------------------------------------------------------


def _payload_end(raw: bytes) -> int:
    msg = decode_message(raw)
    assert msg.spans is not None
    return msg.spans[2]


@pytest.mark.parametrize("raw", [r for _, r, _ in GOLDEN], ids=IDS)
def test_every_truncation_raises_decode_error(raw: bytes) -> None:
    for cut in range(len(raw)):
        try:
            decode_message(raw[:cut])
        except GbcsDecodeError:
            continue
        except Exception as exc:  # pragma: no cover - the failure we look for
            pytest.fail(f"cut at {cut}: {type(exc).__name__}: {exc}")
        pytest.fail(f"cut at {cut} decoded without error")


def test_response_without_signature_field_is_rejected() -> None:
    """Only DUIS pre-commands omit the signature field: cutting it off a response
    must not leave a message that looks complete and unsigned."""
    stripped = SIGNED_RESPONSE[: _payload_end(SIGNED_RESPONSE)]
    assert stripped.hex().upper().endswith("0013" + "03020100")
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(stripped)
    assert info.value.field == "grouping_header.signature_length"
    assert info.value.offset == len(stripped)
    assert "pre-commands" in str(info.value)


def test_alert_without_signature_field_is_rejected() -> None:
    raw = h(f"DF 09 03 0000000000000007 08 {D} 08 {S} 00 02 1000 02 0500")
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(raw)
    assert info.value.field == "grouping_header.signature_length"
    # with the field present (00 or signed) the same alert decodes
    assert decode_message(raw + b"\x00").signature == b""


def test_empty_input() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(b"")
    assert info.value.field == "message"


@pytest.mark.parametrize("first", [0x00, 0xDE, 0xE0, 0x30])
def test_unknown_frame_tag(first: int) -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(bytes((first,)) + PRECOMMAND[1:])
    assert info.value.offset == 0
    assert f"0x{first:02X}" in str(info.value)


def test_gbt_routing_header_is_reported() -> None:
    raw = bytearray(NONCRIT_CMD)
    raw[1] = 0x09
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(bytes(raw))
    assert info.value.field == "mac_header.transaction_id"
    assert "GBT" in str(info.value)


@pytest.mark.parametrize("index", [2, 3, 4, 5, 6])
def test_non_empty_mac_header_fields(index: int) -> None:
    raw = bytearray(NONCRIT_CMD)
    raw[index] = 0x01
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(bytes(raw))
    assert info.value.field == "mac_header.fields"


@pytest.mark.parametrize("delta", [-1, 1, 0x10])
def test_wrong_mac_header_length(delta: int) -> None:
    raw = bytearray(NONCRIT_CMD)
    raw[7] += delta
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(bytes(raw))
    assert info.value.field == "mac_header.length"
    assert info.value.offset == 7


def test_mac_header_length_too_short_for_a_mac() -> None:
    raw = h("DD 00 00 00 00 00 00 10 11 00000000") + bytes(11)
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(raw)
    assert info.value.field == "mac_header.length"
    assert "too short" in str(info.value)


def test_mac_header_non_minimal_length_rejected() -> None:
    raw = h("DD 00 00 00 00 00 00 81 36") + NONCRIT_CMD[8:]
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(raw)
    assert info.value.field == "mac_header.length"


def test_mac_wrapped_message_needs_a_signature_field() -> None:
    grouping = h(G_NONCRIT)[:-1]  # drop the 00 signature field
    raw = h("DD 00 00 00 00 00 00 35 11 00000000") + grouping + h(MAC)
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(raw)
    assert info.value.field == "grouping_header.signature_length"


def test_bytes_between_signature_and_mac() -> None:
    raw = h("DD 00 00 00 00 00 00 37 11 00000000") + h(G_NONCRIT) + b"\x00" + h(MAC)
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(raw)
    assert "before the MAC" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "extra"),
    [(SIGNED_RESPONSE, b"\x00"), (NONCRIT_CMD, b"\x00"), (PRECOMMAND, b"\x00\x00")],
)
def test_trailing_bytes(raw: bytes, extra: bytes) -> None:
    with pytest.raises(GbcsDecodeError):
        decode_message(raw + extra)


def test_trailing_byte_after_signature_names_message_and_offset() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(SIGNED_RESPONSE + b"\xaa")
    assert info.value.field == "message"
    assert info.value.offset == len(SIGNED_RESPONSE)


@pytest.mark.parametrize("cra", [0x00, 0x04, 0xFF])
def test_bad_cra_flag(cra: int) -> None:
    raw = bytearray(PRECOMMAND)
    raw[2] = cra
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(bytes(raw))
    assert info.value.field == "grouping_header.cra_flag"
    assert info.value.offset == 2


def test_bad_cra_flag_offset_inside_mac_header() -> None:
    raw = bytearray(NONCRIT_CMD)
    assert raw[13] == 0xDF  # DD, five empty fields, key-info, L, SC, IC(4)
    raw[13 + 2] = 0x07
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(bytes(raw))
    assert info.value.field == "grouping_header.cra_flag"
    assert info.value.offset == 15


@pytest.mark.parametrize(
    ("index", "value", "field"),
    [
        (1, 0x08, "grouping_header.transaction_id.length"),
        (11, 0x07, "grouping_header.originator.length"),
        (20, 0x09, "grouping_header.recipient.length"),
        (29, 0x05, "grouping_header.date_time.length"),
    ],
)
def test_wrong_grouping_header_tags(index: int, value: int, field: str) -> None:
    raw = bytearray(PRECOMMAND)
    raw[index] = value
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(bytes(raw))
    assert info.value.field == field
    assert info.value.offset == index


def test_wrong_general_signing_tag_inside_mac_header() -> None:
    raw = bytearray(NONCRIT_CMD)
    raw[13] = 0xDE
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(bytes(raw))
    assert info.value.field == "grouping_header.tag"
    assert info.value.offset == 13


@pytest.mark.parametrize("sig_len", [0x01, 0x20, 0x3F, 0x41, 0x80])
def test_bad_signature_length(sig_len: int) -> None:
    raw = bytearray(SIGNED_RESPONSE)
    raw[-65] = sig_len
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(bytes(raw))
    assert info.value.field == "grouping_header.signature_length"
    assert info.value.offset == len(raw) - 65


def test_non_minimal_other_information_length_rejected() -> None:
    raw = PRECOMMAND[:30] + h("81 02") + PRECOMMAND[31:]
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(raw)
    assert info.value.field == "grouping_header.other_information.length"


@pytest.mark.parametrize("length", [1, 3, 9, 11, 17])
def test_other_information_of_impossible_length(length: int) -> None:
    body = h(f"0013 {S} 0100000000000099")[:length]
    raw = h(f"DF 09 01 0100000000000123 08 {S} 08 {D} 00") + bytes((length,)) + body + h("02 0500")
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(raw)
    assert info.value.field.startswith("grouping_header.other_information")


def test_other_information_tail_must_be_a_certificate() -> None:
    body = h(f"0013 {S} 0100000000000099") + h("31 00 00 00 00 00 00 00 00 00")
    raw = (
        h(f"DF 09 01 0100000000000123 08 {S} 08 {D} 00") + bytes((len(body),)) + body + h("02 0500")
    )
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(raw)
    assert info.value.field == "grouping_header.other_information.supplementary_ka_certificate"


def test_truncated_content_is_a_truncation() -> None:
    with pytest.raises(TruncatedError) as info:
        decode_message(PRECOMMAND[:-1])
    assert info.value.field == "grouping_header.content"


# -- encoding errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("other", "field"),
    [
        (OtherInformation(0x10000), "message_code"),
        (OtherInformation(-1), "message_code"),
        (OtherInformation(0x13, None, 5), "supplementary_remote_party_id"),
        (OtherInformation(0x13, None, None, 5), "supplementary_remote_party_id"),
        (OtherInformation(0x13, SUP, None, 5), "supplementary_remote_party_counter"),
        (OtherInformation(0x13, SUP, 1, 2, b"\x30\x00"), "other_information"),
        (OtherInformation(0x13, SUP, 1 << 64), "supplementary_remote_party_counter"),
    ],
)
def test_other_information_encode_errors(other: OtherInformation, field: str) -> None:
    with pytest.raises(GbcsEncodeError) as info:
        other.encode()
    assert info.value.field == field


def test_message_encode_errors() -> None:
    header = _header(Cra.COMMAND, 1, SUP, DEV, OtherInformation(0x13))
    with pytest.raises(GbcsEncodeError, match="0 or 64"):
        GbcsMessage(header, b"\x05\x00", b"\x01" * 63).encode()
    with pytest.raises(GbcsEncodeError, match="12 bytes"):
        GbcsMessage(header, b"\x05\x00", b"", b"\x00" * 16).encode()
    with pytest.raises(GbcsEncodeError, match="signature field"):
        GbcsMessage(header, b"\x05\x00", None, b"\x00" * 12).encode()
    bad_counter = _header(Cra.COMMAND, 1 << 64, SUP, DEV, OtherInformation(0x13))
    with pytest.raises(GbcsEncodeError):
        GbcsMessage(bad_counter, b"", None).encode()


def test_eui64_forms() -> None:
    assert Eui64("90:B3:D5:1F:30:01:00:00") == SUP
    assert Eui64(0x90B3D51F30010000) == SUP
    assert SUP.compact == "90b3d51f30010000"
    assert repr(SUP) == "Eui64('90-B3-D5-1F-30-01-00-00')"
    for bad in ("zz", "0102", 1 << 64, b"\x00" * 7):
        with pytest.raises(GbcsEncodeError):
            Eui64(bad)


def test_header_date_time_struct() -> None:
    """The 12 date-time bytes are year(2) mon day wday h m s cs deviation(2) status."""
    raw = DT.encode()
    assert raw == h(DT_HEX)
    assert struct.unpack(">HBBBBBBBHB", raw) == (2024, 5, 17, 5, 12, 34, 56, 0, 0x8000, 0)


@pytest.mark.parametrize(
    "tail",
    [
        "30",  # 19 bytes: a one-byte "certificate"
        "30 05 0102",  # DER length says 5, 2 follow
        "30 81 02 0102 03",  # one byte more than the DER length
        "30 80 0000",  # indefinite length
    ],
)
def test_certificate_must_fill_other_information(tail: str) -> None:
    body = h(f"0013 {S} 0100000000000099 {tail}")
    raw = (
        h(f"DF 09 01 0100000000000123 08 {S} 08 {D} 00") + bytes((len(body),)) + body + h("02 0500")
    )
    with pytest.raises(GbcsDecodeError) as info:
        decode_message(raw)
    assert "supplementary_ka_certificate" in info.value.field


def test_certificate_length_form_is_kept() -> None:
    """A certificate whose own length uses a long form is carried byte for byte."""
    cert = h("30 81 03 020105")
    other = OtherInformation(0x0096, SUP, 1, None, cert)
    msg = GbcsMessage(_header(Cra.COMMAND, 1, BROKER, DEV, other), h("0500"), None, None)
    back = decode_message(msg.encode())
    assert back.header.other.supplementary_ka_certificate == cert
    assert back.encode() == msg.encode()
