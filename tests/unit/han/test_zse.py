"""ZSE envelopes (kind 16): the cluster id and a bare ZCL frame, decoded with the ZCL
tables of GBZ; what cannot be decoded says which field."""

from __future__ import annotations

import pytest

from emulator.errors import GbcsDecodeError
from emulator.gbcs.eui import Eui64
from emulator.gbcs.zcl.gbz import FC_MANUFACTURER, ZclFrame, decode_zcl_frame, encode_zcl_frame
from emulator.han import Envelope, EnvelopeKind
from emulator.han.zse import ZseMessage, default_response, peek_header, request, response

PPMID = Eui64("00-DB-12-34-56-78-90-A4")
ESME = Eui64("00-DB-12-34-56-78-90-A0")


def test_a_consumer_top_up_has_the_zcl_layout() -> None:
    message = request(0x0705, 0x21, "consumer_top_up", originating_device=2, top_up_code=b"42")
    assert message.encode() == bytes.fromhex("070501210402023432")
    back = ZseMessage.decode(message.encode())
    assert back == message and not back.is_answer
    assert back.frame.fields == {"originating_device": 2, "top_up_code": b"42"}


def test_answers_are_server_to_client() -> None:
    answer = response(
        0x0705,
        0x21,
        "consumer_top_up_response",
        result_type=2,
        top_up_value=0,
        source_of_top_up=2,
        credit_remaining=-5,
    )
    assert answer.encode()[2] == 0x19 and answer.is_answer
    assert ZseMessage.decode(answer.encode()).frame.fields == answer.frame.fields
    default = default_response(0x0702, 0x07, 0x0C, 0x81)
    assert default.encode() == bytes.fromhex("070218070b0c81")
    assert ZseMessage.decode(default.encode()).name == "default_response"


def test_a_manufacturer_code_is_carried_little_endian() -> None:
    frame = ZclFrame(0x01 | FC_MANUFACTURER, 3, 0x0C, {"proposed_supply_status": 2}, None, 0x1234)
    raw = encode_zcl_frame(0x0702, frame)
    assert raw == bytes.fromhex("053412030c02")
    assert decode_zcl_frame(0x0702, raw).manufacturer_code == 0x1234


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("07", "zse.cluster"),
        ("0705 01 21", "zse.zcl.command_id"),
        ("0705 01 21 7f", "zse.zcl.command_id"),  # no such command
        ("0705 01 21 04 02 05 3132", "zse.zcl.consumer_top_up"),  # code cut short
        ("0702 01 21 0c 02 00", "zse.zcl.local_change_supply"),  # a byte too many
    ],
)
def test_what_does_not_decode_names_its_field(raw: str, field: str) -> None:
    with pytest.raises(GbcsDecodeError) as caught:
        ZseMessage.decode(bytes.fromhex(raw))
    assert str(caught.value.field).startswith(field), caught.value


def test_the_header_of_an_undecodable_frame_is_enough_to_answer_it() -> None:
    header = peek_header(bytes.fromhex("0705 01 33 7f ffff"))
    assert header is not None and (header.cluster, header.sequence) == (0x0705, 0x33)
    assert not header.known
    assert peek_header(bytes.fromhex("0705 01 33 04")) is not None
    assert peek_header(bytes.fromhex("0705 01 33")) is None


def test_kind_16_is_a_known_kind_and_17_is_not() -> None:
    env = Envelope(PPMID, ESME, EnvelopeKind.ZSE, b"\x07\x05", 1)
    raw = env.encode()
    assert raw[1] == 16 and Envelope.decode(raw) == env
    with pytest.raises(GbcsDecodeError, match="kind"):
        Envelope.decode(raw[:1] + b"\x11" + raw[2:])
