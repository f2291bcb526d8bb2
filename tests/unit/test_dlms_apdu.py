"""xDLMS access-request / access-response / data-notification: golden hex both ways."""

from __future__ import annotations

import pytest

from emulator.errors import GbcsDecodeError, GbcsEncodeError, TruncatedError
from emulator.gbcs.dlms.apdu import (
    AccessRequest,
    AccessResponse,
    ActionResult,
    DataAccessResult,
    DataNotification,
    Obis,
    RequestSpec,
    ResponseSpec,
    SpecKind,
    decode_apdu,
    invoke_id_for,
)
from emulator.gbcs.dlms.axdr import (
    DoubleLongUnsigned,
    LongUnsigned,
    NullData,
    OctetString,
    Structure,
    Unsigned,
)
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.frame import Cra
from emulator.gbcs.payload import PayloadKind, decode_payload


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


CLOCK = Obis("0-0:1.0.0.255")
UTRN_OBIS = Obis("0-0:19.40.0.255")
PROFILE = Obis("1-0:99.1.0.255")
DIGITS = b"73394614433320402173"
DT_HEX = "07E8 05 11 05 0C 22 38 00 8000 00"
DT = DlmsDateTime(2024, 5, 17, 5, 12, 34, 56, 0, 0x8000, 0)

SELECTION = Structure(
    [DoubleLongUnsigned(1), DoubleLongUnsigned(0), LongUnsigned(1), LongUnsigned(0)]
)

GOLDEN = [
    (
        "request-get",
        # D9, invoke, no date-time, 1 spec: get class 8 0-0:1.0.0.255 attr 2; 1 Data: null
        "D9 20000123 00 01 01 0008 0000010000FF 02 01 00",
        AccessRequest(0x20000123, [RequestSpec(SpecKind.GET, 8, CLOCK, 2)], [NullData()]),
    ),
    (
        "request-set",
        "D9 20000124 00 01 02 0001 0000600100FF 02 01 09 02 ABCD",
        AccessRequest(
            0x20000124,
            [RequestSpec(SpecKind.SET, 1, Obis("0-0:96.1.0.255"), 2)],
            [OctetString(b"\xab\xcd")],
        ),
    ),
    (
        "request-action-utrn",
        # CS01a: action on class 115, 0-0:19.40.0.255, method 1, 09 14 + 20 ASCII digits
        "D9 20000125 00 01 03 0073 0000132800FF 01 01 09 14 " + DIGITS.hex(),
        AccessRequest(
            0x20000125,
            [RequestSpec(SpecKind.ACTION, 115, UTRN_OBIS, 1)],
            [OctetString(DIGITS)],
        ),
    ),
    (
        "request-get-with-selection",
        "D9 20000126 00 01 04 0007 0100630100FF 02 02"
        " 02 04 06 00000001 06 00000000 12 0001 12 0000 01 00",
        AccessRequest(
            0x20000126,
            [RequestSpec(SpecKind.GET_WITH_SELECTION, 7, PROFILE, 2, 2, SELECTION)],
            [NullData()],
        ),
    ),
    (
        "request-two-specs-with-date-time",
        f"D9 20000127 0C {DT_HEX} 02 01 0008 0000010000FF 02 01 0008 0000010000FF 03 02 00 00",
        AccessRequest(
            0x20000127,
            [RequestSpec(SpecKind.GET, 8, CLOCK, 2), RequestSpec(SpecKind.GET, 8, CLOCK, 3)],
            [NullData(), NullData()],
            DT,
        ),
    ),
    (
        "response-no-echo",
        "DA 20000123 00 00 01 09 02 ABCD 01 01 00",
        AccessResponse(0x20000123, [OctetString(b"\xab\xcd")], [ResponseSpec(SpecKind.GET, 0)]),
    ),
    (
        "response-echoed-specs",
        "DA 20000123 00 01 01 01 0008 0000010000FF 02 01 00 01 01 03",
        AccessResponse(
            0x20000123,
            [NullData()],
            [ResponseSpec(SpecKind.GET, 3)],
            None,
            [RequestSpec(SpecKind.GET, 8, CLOCK, 2)],
        ),
    ),
    (
        "response-several-results-and-date-time",
        f"DA 20000125 0C {DT_HEX} 00 02 00 11 05 02 02 00 03 0F",
        AccessResponse(
            0x20000125,
            [NullData(), Unsigned(5)],
            [ResponseSpec(SpecKind.SET, 0), ResponseSpec(SpecKind.ACTION, 15)],
            DT,
        ),
    ),
    (
        "data-notification",
        # CS14-style alert body: structure { alert code 8F12, octet-string(12) timestamp }
        f"0F 20000FA0 00 02 02 12 8F12 09 0C {DT_HEX}",
        DataNotification(0x20000FA0, Structure([LongUnsigned(0x8F12), OctetString(DT.encode())])),
    ),
    (
        "data-notification-with-date-time",
        f"0F 20000FA1 0C {DT_HEX} 00",
        DataNotification(0x20000FA1, NullData(), DT),
    ),
]
IDS = [name for name, _, _ in GOLDEN]


@pytest.mark.parametrize(("hex_in", "apdu"), [(x, a) for _, x, a in GOLDEN], ids=IDS)
def test_decode(hex_in: str, apdu: object) -> None:
    assert decode_apdu(h(hex_in)) == apdu


@pytest.mark.parametrize(("hex_in", "apdu"), [(x, a) for _, x, a in GOLDEN], ids=IDS)
def test_encode(hex_in: str, apdu: AccessRequest | AccessResponse | DataNotification) -> None:
    assert apdu.encode() == h(hex_in)


@pytest.mark.parametrize(("hex_in", "apdu"), [(x, a) for _, x, a in GOLDEN], ids=IDS)
def test_payload_dispatch_picks_dlms(hex_in: str, apdu: object) -> None:
    decoded = decode_payload(h(hex_in), Cra.RESPONSE, 0x0013)
    assert decoded.kind is PayloadKind.DLMS
    assert decoded.tree == apdu
    assert decoded.encode() == h(hex_in)


@pytest.mark.parametrize("hex_in", [x for _, x, _ in GOLDEN], ids=IDS)
def test_every_truncation_raises(hex_in: str) -> None:
    raw = h(hex_in)
    for cut in range(len(raw)):
        with pytest.raises(GbcsDecodeError):
            decode_apdu(raw[:cut])


def test_result_names() -> None:
    assert ResponseSpec(SpecKind.GET, 0).result_name == "success"
    assert ResponseSpec(SpecKind.GET, 0).ok
    assert not ResponseSpec(SpecKind.GET, 3).ok
    assert ResponseSpec(SpecKind.GET, 3).result_name == "read-write-denied"
    assert ResponseSpec(SpecKind.SET, 4).result_name == "object-undefined"
    assert ResponseSpec(SpecKind.GET, 15).result_name == "long-get-aborted"
    assert ResponseSpec(SpecKind.ACTION, 15).result_name == "long-action-aborted"
    assert ResponseSpec(SpecKind.ACTION, 250).result_name == "other-reason"
    assert ResponseSpec(SpecKind.SET, 99).result_name == "result-99"
    assert DataAccessResult(12).name == "TYPE_UNMATCHED"
    assert ActionResult(16).name == "NO_LONG_ACTION_IN_PROGRESS"


def test_invoke_id_for_counter() -> None:
    assert invoke_id_for(0x0100000000ABCDEF) == 0x20ABCDEF
    assert invoke_id_for(0x0000000300000123) == 0x20000123
    assert invoke_id_for(0x123, priority=0x40) == 0x40000123


def test_obis_forms() -> None:
    assert bytes(CLOCK) == h("0000010000FF")
    assert str(UTRN_OBIS) == "0-0:19.40.0.255"
    assert Obis("0.0.19.40.0.255") == UTRN_OBIS
    assert repr(CLOCK) == "Obis('0-0:1.0.0.255')"
    with pytest.raises(GbcsEncodeError):
        Obis("1.2.3")
    with pytest.raises(GbcsEncodeError):
        Obis(b"\x00" * 5)


# -- malformed input ------------------------------------------------------------------------


def test_empty_and_unknown_apdu() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_apdu(b"")
    assert info.value.field == "dlms"
    with pytest.raises(GbcsDecodeError) as info:
        decode_apdu(h("C0 01"))
    assert info.value.field == "dlms.tag"
    assert "0xC0" in str(info.value)


def test_data_count_must_match_specs() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_apdu(h("D9 20000123 00 01 01 0008 0000010000FF 02 00"))
    assert info.value.field == "dlms.data.count"


@pytest.mark.parametrize("choice", ["00", "06", "FF"])
def test_unknown_request_spec_choice(choice: str) -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_apdu(h(f"D9 20000123 00 01 {choice} 0008 0000010000FF 02 01 00"))
    assert info.value.field == "dlms.request_spec.choice"
    assert info.value.offset == 7


def test_bad_echo_flag() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_apdu(h("DA 20000123 00 02 01 00 01 01 00"))
    assert info.value.field == "dlms.request_specs.present"
    assert info.value.offset == 6


@pytest.mark.parametrize("choice", ["00", "04", "05"])
def test_unknown_result_choice(choice: str) -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_apdu(h(f"DA 20000123 00 00 01 00 01 {choice} 00"))
    assert info.value.field == "dlms.result.choice"
    assert info.value.offset == 10  # DA, invoke(4), 00, 00, 01, 00, 01, choice


@pytest.mark.parametrize("length", ["01", "0B", "0D"])
def test_bad_date_time_length(length: str) -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_apdu(h(f"0F 20000FA0 {length} 00"))
    assert info.value.field == "dlms.date_time.length"


def test_unknown_data_tag_inside_apdu_names_field() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_apdu(h("0F 20000FA0 00 07"))
    assert info.value.field == "dlms.data.tag"
    assert info.value.offset == 6


def test_trailing_bytes_rejected() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_apdu(h("0F 20000FA0 00 00 00"))
    assert not isinstance(info.value, TruncatedError)
    assert info.value.offset == 7


def test_selective_access_needs_selection_to_encode() -> None:
    spec = RequestSpec(SpecKind.GET_WITH_SELECTION, 7, PROFILE, 2)
    with pytest.raises(GbcsEncodeError):
        AccessRequest(1, [spec], [NullData()]).encode()
    with pytest.raises(GbcsEncodeError):
        AccessRequest(1, [RequestSpec(SpecKind.GET, 7, PROFILE, 256)], [NullData()]).encode()


def test_deep_nesting_inside_an_apdu_is_a_decode_error() -> None:
    raw = h("0F 20000FA0 00") + h("01 01") * 3000 + h("00")
    with pytest.raises(GbcsDecodeError, match="nested deeper"):
        decode_apdu(raw)


def test_nesting_depth_resets_between_data_items() -> None:
    deep = "02 01" * 99 + "00"
    raw = h(f"DA 20000123 00 00 03 {deep} {deep} {deep} 01 01 00")
    apdu = decode_apdu(raw)
    assert isinstance(apdu, AccessResponse) and len(apdu.data) == 3
    assert apdu.encode() == raw
