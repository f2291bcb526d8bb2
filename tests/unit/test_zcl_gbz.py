"""GBZ containers and ZCL commands, built by hand from the layout, both directions.

GBZ: ``01 09 <count>`` then components ``<control> <cluster BE> <length BE>
[from-date-time 4] [00 <frame counter>] <ZCL fc> <seq> <cmd> payload(LE)``.
"""

from __future__ import annotations

import pytest

from emulator.errors import GbcsDecodeError, GbcsEncodeError, TruncatedError
from emulator.gbcs.frame import Cra
from emulator.gbcs.payload import PayloadKind, decode_payload
from emulator.gbcs.zcl import clusters
from emulator.gbcs.zcl.clusters import COMMANDS, Cluster, Direction, by_name, lookup
from emulator.gbcs.zcl.foundation import GENERAL_COMMANDS
from emulator.gbcs.zcl.gbz import (
    EncryptedPayload,
    FutureDatedGbzOutcome,
    GbzAlert,
    GbzComponent,
    GbzPayload,
    ZclFrame,
    decode_gbz,
    decode_gbz_alert,
    decode_zcl_payload,
    encode_gbz,
    encode_gbz_alert,
    encode_zcl_payload,
)
from emulator.gbcs.zcl.types import ZclValue


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


DIGITS = b"73394614433320402173"
TAG = "000102030405060708090A0B"


def single(control: int, cluster: int, frame: ZclFrame, **kw: int) -> GbzPayload:
    return GbzPayload([GbzComponent(control, cluster, frame, **kw)])  # type: ignore[arg-type]


READ_ATTRS = "0109 01  01 0702 0007  00 05 00  0000 0203"

READ_ATTRS_RESPONSE = (
    "0109 01  01 0702 006B  18 05 01"
    " 0000 00 25 102700000000"  # uint48 10000
    " 0203 00 22 E80300"  # uint24 1000
    " 0002 00 18 01"  # map8
    " 0003 00 30 00"  # enum8
    " 0603 00 41 03 414243"  # octstr "ABC"
    " 0703 86"  # unsupported attribute: no type, no value
    " 0001 00 29 FEFF"  # int16 -2
    " 0004 00 E2 00E1F505"  # UTC 100000000
    " 0103 00 10 01"  # bool
    " 0005 00 42 02 6869"  # string "hi"
    " 0105 00 39 0000C03F"  # single 1.5
    " 0205 00 F0 0102030405060708"  # EUI64
    " 0305 00 48 20 0200 0102"  # array of uint8 [1, 2]
    " 0405 00 4C 0200 20 05 21 0600"  # struct {uint8 5, uint16 6}
)
RECORDS = [
    {"attribute_id": 0x0000, "status": 0, "value": ZclValue(0x25, 10000)},
    {"attribute_id": 0x0302, "status": 0, "value": ZclValue(0x22, 1000)},
    {"attribute_id": 0x0200, "status": 0, "value": ZclValue(0x18, 1)},
    {"attribute_id": 0x0300, "status": 0, "value": ZclValue(0x30, 0)},
    {"attribute_id": 0x0306, "status": 0, "value": ZclValue(0x41, b"ABC")},
    {"attribute_id": 0x0307, "status": 0x86},
    {"attribute_id": 0x0100, "status": 0, "value": ZclValue(0x29, -2)},
    {"attribute_id": 0x0400, "status": 0, "value": ZclValue(0xE2, 100000000)},
    {"attribute_id": 0x0301, "status": 0, "value": ZclValue(0x10, 1)},
    {"attribute_id": 0x0500, "status": 0, "value": ZclValue(0x42, b"hi")},
    {"attribute_id": 0x0501, "status": 0, "value": ZclValue(0x39, 1.5)},
    {"attribute_id": 0x0502, "status": 0, "value": ZclValue(0xF0, h("0102030405060708"))},
    {"attribute_id": 0x0503, "status": 0, "value": ZclValue(0x48, ZclValue(0x20, [1, 2]))},
    {
        "attribute_id": 0x0504,
        "status": 0,
        "value": ZclValue(0x4C, [ZclValue(0x20, 5), ZclValue(0x21, 6)]),
    },
]

WRITE_RESPONSE_OK = "0109 01  01 0702 0004  18 06 04 00"
WRITE_RESPONSE_FAIL = "0109 01  01 0702 0009  18 07 04  87 0002  86 0103"
DEFAULT_RESPONSE = "0109 01  01 0705 0005  18 08 0B  00 81"
TOP_UP = "0109 01  01 0705 0019  01 09 04  00 14 " + DIGITS.hex()
TARIFF = (
    "0109 01  11 0700 002D  2D4E5A00  09 0A 04"
    " 01000000 02000000 03000000 00000000 00 03 544631 04 00 01 3A03 20"
    " 10270000 FF 010000 010000"
)
TARIFF_FIELDS = {
    "provider_id": 1,
    "issuer_event_id": 2,
    "issuer_tariff_id": 3,
    "start_time": 0,
    "tariff_type_charging_scheme": 0,
    "tariff_label": b"TF1",
    "number_of_price_tiers_in_use": 4,
    "number_of_block_thresholds_in_use": 0,
    "unit_of_measure": 1,
    "currency": 826,
    "price_trailing_digit": 0x20,
    "standing_charge": 10000,
    "tier_block_mode": 0xFF,
    "block_threshold_multiplier": 1,
    "block_threshold_divisor": 1,
}
SNAPSHOT = (
    "0109 01  01 0702 0033  09 0B 06"
    " 01000000 80969800 01 00 01 02000000 06"
    " 102700000000 02 E80300000000 D00700000000 21 010000000000 020000000000"
)
SNAPSHOT_FIELDS = {
    "snapshot_id": 1,
    "snapshot_time": 10_000_000,
    "total_snapshots_found": 1,
    "command_index": 0,
    "total_number_of_commands": 1,
    "snapshot_cause": 2,
    "snapshot_payload_type": 6,
    "snapshot_payload": {
        "current_summation_delivered": 10000,
        "number_of_tiers_in_use": 2,
        "tier_summations": [1000, 2000],
        "number_of_tiers_and_block_thresholds_in_use": 0x21,  # 2 tiers x 1 block
        "tier_block_summations": [1, 2],
    },
}
ENCRYPTED = f"0109 01  03 0702 001B  00 00  18 01 01  0014 31 00000000 AABBCC {TAG}"
TWO_COMPONENTS = "0109 02  00 0702 0007 00 05 00 0000 0203  01 0705 0005 18 08 0B 00 81"

GOLDEN: list[tuple[str, str, GbzPayload]] = [
    (
        "read-attributes",
        READ_ATTRS,
        single(0x01, 0x0702, ZclFrame(0x00, 5, 0x00, {"attribute_ids": [0x0000, 0x0302]})),
    ),
    (
        "read-attributes-response",
        READ_ATTRS_RESPONSE,
        single(0x01, 0x0702, ZclFrame(0x18, 5, 0x01, {"records": RECORDS})),
    ),
    (
        "write-attributes-response-success",
        WRITE_RESPONSE_OK,
        single(0x01, 0x0702, ZclFrame(0x18, 6, 0x04, {"records": [{"status": 0}]})),
    ),
    (
        "write-attributes-response-failures",
        WRITE_RESPONSE_FAIL,
        single(
            0x01,
            0x0702,
            ZclFrame(
                0x18,
                7,
                0x04,
                {
                    "records": [
                        {"status": 0x87, "attribute_id": 0x0200},
                        {"status": 0x86, "attribute_id": 0x0301},
                    ]
                },
            ),
        ),
    ),
    (
        "default-response",
        DEFAULT_RESPONSE,
        single(0x01, 0x0705, ZclFrame(0x18, 8, 0x0B, {"command_id": 0, "status": 0x81})),
    ),
    (
        "prepayment-consumer-top-up",
        TOP_UP,
        single(
            0x01,
            0x0705,
            ZclFrame(0x01, 9, 0x04, {"originating_device": 0, "top_up_code": DIGITS}),
        ),
    ),
    (
        "price-publish-tariff-information-future-dated",
        TARIFF,
        single(0x11, 0x0700, ZclFrame(0x09, 0x0A, 0x04, TARIFF_FIELDS), from_date_time=0x2D4E5A00),
    ),
    (
        "metering-publish-snapshot-type-6",
        SNAPSHOT,
        single(0x01, 0x0702, ZclFrame(0x09, 0x0B, 0x06, SNAPSHOT_FIELDS)),
    ),
    (
        "encrypted-component",
        ENCRYPTED,
        single(
            0x03,
            0x0702,
            ZclFrame(0x18, 1, 0x01, None, EncryptedPayload(h("AABBCC"), h(TAG))),
            frame_counter=0,
        ),
    ),
    (
        "two-components",
        TWO_COMPONENTS,
        GbzPayload(
            [
                GbzComponent(
                    0x00, 0x0702, ZclFrame(0x00, 5, 0x00, {"attribute_ids": [0x0000, 0x0302]})
                ),
                GbzComponent(
                    0x01, 0x0705, ZclFrame(0x18, 8, 0x0B, {"command_id": 0, "status": 0x81})
                ),
            ]
        ),
    ),
]
IDS = [name for name, _, _ in GOLDEN]


def _without_names(payload: GbzPayload) -> list[tuple[object, ...]]:
    """Compare everything but the display name (checked separately)."""
    return [
        (
            c.control,
            c.cluster,
            c.from_date_time,
            c.frame_counter,
            c.additional_header_control,
            c.frame.frame_control,
            c.frame.sequence,
            c.frame.command_id,
            c.frame.fields,
            c.frame.encrypted,
            c.frame.manufacturer_code,
        )
        for c in payload.components
    ]


@pytest.mark.parametrize(("hex_in", "expected"), [(x, p) for _, x, p in GOLDEN], ids=IDS)
def test_decode(hex_in: str, expected: GbzPayload) -> None:
    decoded = decode_gbz(h(hex_in))
    assert decoded.profile_id == 0x0109
    assert _without_names(decoded) == _without_names(expected)


@pytest.mark.parametrize(("hex_in", "fields"), [(x, p) for _, x, p in GOLDEN], ids=IDS)
def test_encode(hex_in: str, fields: GbzPayload) -> None:
    assert encode_gbz(fields) == h(hex_in)


@pytest.mark.parametrize("hex_in", [x for _, x, _ in GOLDEN], ids=IDS)
def test_payload_dispatch_picks_gbz(hex_in: str) -> None:
    decoded = decode_payload(h(hex_in), Cra.RESPONSE, 0x006C)
    assert decoded.kind is PayloadKind.GBZ
    assert decoded.encode() == h(hex_in)


@pytest.mark.parametrize("hex_in", [x for _, x, _ in GOLDEN], ids=IDS)
def test_every_truncation_raises(hex_in: str) -> None:
    raw = h(hex_in)
    for cut in range(len(raw)):
        with pytest.raises(GbcsDecodeError):
            decode_gbz(raw[:cut])


def test_command_names_and_flags() -> None:
    names = {
        "read-attributes": "read_attributes",
        "read-attributes-response": "read_attributes_response",
        "write-attributes-response-success": "write_attributes_response",
        "default-response": "default_response",
        "prepayment-consumer-top-up": "consumer_top_up",
        "price-publish-tariff-information-future-dated": "publish_tariff_information",
        "metering-publish-snapshot-type-6": "publish_snapshot",
        "encrypted-component": "read_attributes_response",
    }
    golden = {name: x for name, x, _ in GOLDEN}
    for key, name in names.items():
        assert decode_gbz(h(golden[key])).components[0].frame.name == name
    top_up = decode_gbz(h(TOP_UP)).components[0]
    assert top_up.frame.cluster_specific and top_up.frame.direction is Direction.TO_SERVER
    assert top_up.last and not top_up.encrypted
    tariff = decode_gbz(h(TARIFF)).components[0]
    assert tariff.frame.direction is Direction.TO_CLIENT
    enc = decode_gbz(h(ENCRYPTED)).components[0]
    assert enc.encrypted and enc.frame.fields is None
    two = decode_gbz(h(TWO_COMPONENTS)).components
    assert [c.last for c in two] == [False, True]


def test_zcl_value_type_names() -> None:
    assert ZclValue(0x25, 0).type_name == "uint48"
    assert ZclValue(0xE2, 0).type_name == "UTC"
    assert ZclValue(0x07, 0).type_name == "type-0x07"


def test_manufacturer_specific_frame_keeps_code() -> None:
    raw = h("0109 01  01 0702 0009  04 3412 05 00 0000 0203")
    comp = decode_gbz(raw).components[0]
    assert comp.frame.manufacturer_code == 0x1234
    assert encode_gbz(decode_gbz(raw)) == raw


def test_zcl_payload_helpers() -> None:
    payload = h("00 14") + DIGITS
    name, fields = decode_zcl_payload(0x0705, 0x01, 0x04, payload)
    assert name == "consumer_top_up"
    assert fields == {"originating_device": 0, "top_up_code": DIGITS}
    assert encode_zcl_payload(0x0705, 0x01, 0x04, fields) == payload


def test_octet_string_ff_length_is_invalid_value() -> None:
    _, fields = decode_zcl_payload(0x0705, 0x01, 0x04, h("00 FF"))
    assert fields["top_up_code"] is None
    assert encode_zcl_payload(0x0705, 0x01, 0x04, fields) == h("00 FF")


# -- alerts --------------------------------------------------------------------------------

TS = "2D4E5A00"
ALERTS: list[tuple[str, str, int, GbzAlert]] = [
    (
        "future-dated-00CD",
        f"0109 01 8F66 {TS} 0E 006C 0100000000000042 0700 09 04",
        0x00CD,
        GbzAlert(
            0x8F66,
            0x2D4E5A00,
            1,
            FutureDatedGbzOutcome(0x006C, 0x0100000000000042, 0x0700, 0x09, 0x04),
            body_kind="future_dated_outcome",
        ),
    ),
    (
        "integrity-00F2",
        f"0109 01 81A0 {TS} 1234",
        0x00F2,
        GbzAlert(0x81A0, 0x2D4E5A00, 1, 0x1234, body_kind="meter_integrity_code"),
    ),
    (
        "firmware-hash-00CF",
        f"0109 01 8F3F {TS} 09 20 " + bytes(range(32)).hex(),
        0x00CF,
        GbzAlert(0x8F3F, 0x2D4E5A00, 1, bytes(range(32)), body_kind="firmware_hash"),
    ),
    (
        "generic-1000-no-body",
        f"0109 00 8F30 {TS}",
        0x1000,
        GbzAlert(0x8F30, 0x2D4E5A00, 0, None, body_kind="none"),
    ),
]
ALERT_IDS = [name for name, _, _, _ in ALERTS]


@pytest.mark.parametrize(
    ("hex_in", "code", "alert"), [(x, c, a) for _, x, c, a in ALERTS], ids=ALERT_IDS
)
def test_alert_decode(hex_in: str, code: int, alert: GbzAlert) -> None:
    assert decode_gbz_alert(h(hex_in), code) == alert


@pytest.mark.parametrize(("hex_in", "alert"), [(x, a) for _, x, _, a in ALERTS], ids=ALERT_IDS)
def test_alert_encode(hex_in: str, alert: GbzAlert) -> None:
    assert encode_gbz_alert(alert) == h(hex_in)


@pytest.mark.parametrize(
    ("hex_in", "code", "alert"), [(x, c, a) for _, x, c, a in ALERTS], ids=ALERT_IDS
)
def test_alert_dispatch_uses_cra(hex_in: str, code: int, alert: GbzAlert) -> None:
    decoded = decode_payload(h(hex_in), Cra.ALERT, code)
    assert decoded.tree == alert
    assert decoded.encode() == h(hex_in)
    # the same bytes are not a valid plain GBZ payload (alert header would be components)
    with pytest.raises(GbcsDecodeError):
        decode_gbz(h(hex_in)) if code != 0x1000 else decode_gbz(h(hex_in) + b"\x00")


@pytest.mark.parametrize(("hex_in", "code"), [(x, c) for _, x, c, _ in ALERTS], ids=ALERT_IDS)
def test_alert_truncations(hex_in: str, code: int) -> None:
    raw = h(hex_in)
    for cut in range(len(raw)):
        with pytest.raises(GbcsDecodeError):
            decode_gbz_alert(raw[:cut], code)


def test_alert_with_components() -> None:
    raw = h(f"0109 01 8F30 {TS} 01 0702 0007 00 05 00 0000 0203")
    alert = decode_gbz_alert(raw, 0x1000)
    assert alert.body_kind == "components"
    assert isinstance(alert.body, list) and alert.body[0].frame.name == "read_attributes"
    assert encode_gbz_alert(alert) == raw


def test_future_dated_outcome_length_must_be_14() -> None:
    raw = h(f"0109 01 8F66 {TS} 0D 006C 0100000000000042 0700 09")
    with pytest.raises(GbcsDecodeError):
        decode_gbz_alert(raw, 0x00CD)
    raw = h(f"0109 01 8F66 {TS} 0F 006C 0100000000000042 0700 09 04 00")
    with pytest.raises(GbcsDecodeError) as info:
        decode_gbz_alert(raw, 0x00CD)
    assert "future_dated" in info.value.field


def test_firmware_hash_needs_octet_string_tag() -> None:
    raw = h(f"0109 01 8F3F {TS} 0A 20 " + bytes(32).hex())
    with pytest.raises(GbcsDecodeError) as info:
        decode_gbz_alert(raw, 0x00CF)
    assert info.value.field == "gbz_alert.firmware_hash.tag"


def test_alert_trailing_bytes() -> None:
    with pytest.raises(GbcsDecodeError):
        decode_gbz_alert(h(f"0109 01 81A0 {TS} 1234 00"), 0x00F2)


# -- command table ------------------------------------------------------------------------


def test_command_table_is_consistent() -> None:
    assert len(COMMANDS) > 80
    names = [(c.cluster, c.direction, c.name) for c in COMMANDS.values()]
    assert len(names) == len(set(names))
    for key, definition in COMMANDS.items():
        assert key == (definition.cluster, definition.direction, definition.command_id)
        assert by_name(definition.cluster, definition.direction, definition.name) is definition
    assert len({g.name for g in GENERAL_COMMANDS.values()}) == len(GENERAL_COMMANDS)


def test_command_table_refuses_duplicates() -> None:
    before = dict(COMMANDS)
    with pytest.raises(TypeError, match="duplicate command"):
        clusters._cmd(Cluster.PRICE, Direction.TO_CLIENT, 0x04, "another_name")
    with pytest.raises(TypeError, match="duplicate command name"):
        clusters._cmd(Cluster.PRICE, Direction.TO_CLIENT, 0x7E, "publish_tariff_information")
    assert before == COMMANDS


def test_lookup() -> None:
    found = lookup(0x0705, Direction.TO_SERVER, 0x04)
    assert found is not None and found.name == "consumer_top_up"
    assert lookup(0x0705, Direction.TO_CLIENT, 0x04) is None
    assert lookup(0x0702, Direction.TO_CLIENT, 0xEE) is None
    with pytest.raises(KeyError):
        by_name(0x0702, Direction.TO_CLIENT, "no_such_command")


@pytest.mark.parametrize(
    ("hex_in", "command"),
    [
        ("0109 01  01 0702 0003  09 01 EE", "0xEE"),  # unknown cluster-specific command
        ("0109 01  01 0702 0003  18 01 99", "0x99"),  # unknown general command
        ("0109 01  01 0705 0005  09 01 04 00 00", "0x04"),  # top-up in the wrong direction
        ("0109 01  01 0001 0003  01 01 00", "0x00"),  # cluster without commands
    ],
)
def test_unknown_commands_raise(hex_in: str, command: str) -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_gbz(h(hex_in))
    assert info.value.field == "gbz.component[0].zcl.command_id"
    assert info.value.offset == 10
    assert f"no schema for command {command}" in str(info.value)


def test_unknown_command_helpers() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_zcl_payload(0x0702, 0x09, 0xEE, b"")
    assert info.value.field == "zcl.command_id"
    assert "cluster-specific to-client command 0xEE" in str(info.value)
    with pytest.raises(GbcsEncodeError):
        encode_zcl_payload(0x0702, 0x09, 0xEE, {})


# -- malformed GBZ ------------------------------------------------------------------------


def test_wrong_profile() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_gbz(h("0104 00"))
    assert info.value.field == "gbz.profile_id"
    assert info.value.offset == 0


def test_unknown_zcl_type_in_record() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_gbz(h("0109 01  01 0702 0007  18 05 01  0000 00 07 00"))
    assert "data_type" in info.value.field
    assert "unknown ZCL type 0x07" in str(info.value)
    assert info.value.offset == 14


def test_component_count_larger_than_components() -> None:
    with pytest.raises(TruncatedError):
        decode_gbz(h("0109 02") + h(READ_ATTRS)[3:])


def test_component_longer_than_payload_bytes() -> None:
    with pytest.raises(GbcsDecodeError):
        decode_gbz(h("0109 01  01 0702 0004  18 06 04 00 00"))
    with pytest.raises(GbcsDecodeError):
        decode_gbz(h("0109 01  01 0702 0005  18 06 04 00"))


def test_trailing_bytes_after_components() -> None:
    with pytest.raises(GbcsDecodeError) as info:
        decode_gbz(h(WRITE_RESPONSE_OK) + b"\x00")
    assert "trailing" in str(info.value)


def test_unknown_snapshot_payload_type() -> None:
    raw = h("0109 01  01 0702 0013  09 0B 06  01000000 80969800 01 00 01 02000000 09")
    with pytest.raises(GbcsDecodeError, match="no layout for snapshot_payload_type=9"):
        decode_gbz(raw)


def test_encrypted_payload_shorter_than_tag() -> None:
    raw = h("0109 01  03 0702 000F  00 00  18 01 01  0008 31 00000000 AABBCC")
    with pytest.raises(GbcsDecodeError, match="shorter than the GCM tag"):
        decode_gbz(raw)


def test_encode_errors() -> None:
    frame = ZclFrame(0x18, 1, 0x01, None, None)
    with pytest.raises(GbcsEncodeError):
        encode_gbz(single(0x03, 0x0702, frame))  # encrypted flag, nothing encrypted
    with pytest.raises(GbcsEncodeError):
        encode_gbz(single(0x01, 0x0702, frame))  # no fields
    with pytest.raises(GbcsEncodeError):
        encode_gbz(single(0x11, 0x0702, ZclFrame(0x18, 1, 0x04, {"records": []})))
    with pytest.raises(GbcsEncodeError):
        EncryptedPayload(b"", b"\x00" * 16).encode()
    tariff = dict(TARIFF_FIELDS)
    del tariff["currency"]
    with pytest.raises(GbcsEncodeError):
        encode_zcl_payload(0x0700, 0x09, 0x04, tariff)


def _nested_struct_response(depth: int) -> bytes:
    record = h("0000 00") + h("4C 0100") * depth + h("20 07")
    zcl = h("18 01 01") + record
    return h("0109 01 01 0702") + len(zcl).to_bytes(2, "big") + zcl


def test_deeply_nested_zcl_values_are_a_decode_error() -> None:
    """Hostile nesting must not exhaust the Python stack (RecursionError)."""
    with pytest.raises(GbcsDecodeError, match="nested deeper than 16 levels"):
        decode_gbz(_nested_struct_response(2000))


def test_zcl_nesting_limit_boundary() -> None:
    ok = _nested_struct_response(16)
    assert encode_gbz(decode_gbz(ok)) == ok
    with pytest.raises(GbcsDecodeError):
        decode_gbz(_nested_struct_response(17))


@pytest.mark.parametrize(
    ("hex_value", "expected"),
    [("39 0000C03F", 1.5), ("3A 000000000000F0BF", -1.0)],
)
def test_zcl_float_attributes(hex_value: str, expected: float) -> None:
    raw_value = h(hex_value)
    zcl = h("18 05 01 0105 00") + raw_value
    raw = h("0109 01 01 0702") + len(zcl).to_bytes(2, "big") + zcl
    record = decode_gbz(raw).components[0].frame.fields["records"][0]  # type: ignore[index]
    assert record["value"] == ZclValue(raw_value[0], expected)
    assert encode_gbz(decode_gbz(raw)) == raw


def _float_record(hex_value: str) -> bytes:
    zcl = h("18 05 01 0105 00") + h(hex_value)
    return h("0109 01 01 0702") + len(zcl).to_bytes(2, "big") + zcl


def test_zcl_double_nan_payload_round_trips() -> None:
    raw = _float_record("3A 010000000000F07F")
    assert encode_gbz(decode_gbz(raw)) == raw


def test_zcl_single_nan_payload_round_trips() -> None:
    raw = _float_record("39 0100807F")
    assert raw == h("0109 01 01 0702 000B 18 05 01 0105 00 39 0100807F")
    assert encode_gbz(decode_gbz(raw)) == raw
