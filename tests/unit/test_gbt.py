"""General Block Transfer: frame layout, segmenting and reassembly.

Frame: DD 09 <CRA> <counter 8> 08 <orig> 08 <recip> 00 02 <code 2> 00 <BER L> <SC> <IC 4>
       E0 <block control> <block no 2> <acked no 2> <BER len> data
with L = 5 + len(E0 APDU); block control bit7 last, bit6 streaming, bits0-5 window.
"""

from __future__ import annotations

import random

import pytest

from emulator.errors import GbcsDecodeError, GbcsEncodeError
from emulator.gbcs import builder
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, decode_message
from emulator.gbcs.gbt import (
    GbtFrame,
    Reassembler,
    RoutingHeader,
    decode_gbt_frame,
    is_gbt,
    segment,
)
from emulator.gbcs.security import MessageSecurity

S = Eui64("90-B3-D5-1F-30-01-00-00")
D = Eui64("00-DB-12-34-56-78-90-A0")
ROUTING = RoutingHeader(Cra.COMMAND, 0x0100000000000123, S, D, 0x0013)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


FRAME = h(
    f"DD 09 01 0100000000000123 08 {S.hex()} 08 {D.hex()} 00 02 0013 00 0F 00 00000000"
    " E0 85 0002 0001 03 616263"
)
FRAME_FIELDS = GbtFrame(ROUTING, 2, 1, True, False, 5, b"abc")


def test_frame_golden_encode() -> None:
    assert FRAME_FIELDS.encode() == FRAME


def test_frame_golden_decode() -> None:
    assert decode_gbt_frame(FRAME) == FRAME_FIELDS


def test_long_block_uses_81_lengths() -> None:
    frame = GbtFrame(
        RoutingHeader(Cra.RESPONSE, 7, D, S, 0x0013, 0x11, 3), 1, 0, False, True, 63, bytes(200)
    )
    raw = frame.encode()
    # L = 5 + (E0, control, 2 + 2, 81 C8, 200) = 213 = 81 D5
    assert raw[33:36] == h("00 81 D5")
    assert raw[36:41] == h("11 00000003")
    assert raw[41:48] == h("E0 7F 0001 0000 81")  # streaming + window 63
    assert decode_gbt_frame(raw) == frame


def test_ack_has_no_data() -> None:
    ack = GbtFrame(ROUTING, 0, 3)
    assert ack.is_ack and not FRAME_FIELDS.is_ack
    assert decode_gbt_frame(ack.encode()).acked_block_number == 3


def test_is_gbt_and_decode_message_refuses_it() -> None:
    assert is_gbt(FRAME)
    assert not is_gbt(h("DD 00")) and not is_gbt(h("DF 09")) and not is_gbt(h("DD"))
    with pytest.raises(GbcsDecodeError, match="GBT"):
        decode_message(FRAME)


def test_every_truncation_raises() -> None:
    for cut in range(len(FRAME)):
        with pytest.raises(GbcsDecodeError):
            decode_gbt_frame(FRAME[:cut])


@pytest.mark.parametrize(
    ("index", "value", "field"),
    [
        (1, 0x00, "gbt.routing_header.tag"),
        (2, 0x04, "gbt.routing_header.cra"),
        (11, 0x07, "gbt.routing_header.originator.length"),
        (20, 0x09, "gbt.routing_header.recipient.length"),
        (29, 0x05, "gbt.routing_header.date_time.length"),
        (33, 0x01, "gbt.routing_header.key_info"),
        (34, 0x10, "gbt.routing_header.length"),
        (40, 0xE1, "gbt.block.tag"),
    ],
)
def test_malformed_frames(index: int, value: int, field: str) -> None:
    raw = bytearray(FRAME)
    raw[index] = value
    with pytest.raises(GbcsDecodeError) as info:
        decode_gbt_frame(bytes(raw))
    assert info.value.field == field


def test_trailing_bytes_after_block_data() -> None:
    raw = bytearray(FRAME)
    raw[34] += 1  # keep the routing length consistent with one extra byte
    with pytest.raises(GbcsDecodeError) as info:
        decode_gbt_frame(bytes(raw) + b"\x00")
    assert info.value.field == "gbt.block"


def test_encode_errors() -> None:
    with pytest.raises(GbcsEncodeError):
        GbtFrame(ROUTING, 1, window=64, data=b"x").encode()
    with pytest.raises(GbcsEncodeError):
        segment(b"abc", ROUTING, 0)


# -- segmenting and reassembly ----------------------------------------------------------------


@pytest.fixture(scope="module")
def big_message(security: MessageSecurity) -> bytes:
    cmd = builder.command(0x0013, ROUTING.originator_counter, S, D, bytes(range(256)) * 2)
    return builder.protect(cmd, security, critical=True).encode()


@pytest.fixture(scope="module")
def frames(big_message: bytes) -> list[bytes]:
    return segment(big_message, ROUTING, 100, window=4)


def test_segment_layout(big_message: bytes, frames: list[bytes]) -> None:
    decoded = [decode_gbt_frame(f) for f in frames]
    assert len(frames) == (len(big_message) + 99) // 100
    assert [f.block_number for f in decoded] == list(range(1, len(frames) + 1))
    assert [f.last_block for f in decoded] == [False] * (len(frames) - 1) + [True]
    assert all(f.window == 4 and f.routing == ROUTING for f in decoded)
    assert all(len(f.data) == 100 for f in decoded[:-1])
    assert b"".join(f.data for f in decoded) == big_message


def test_reassembly_in_order(big_message: bytes, frames: list[bytes]) -> None:
    r = Reassembler()
    for raw in frames[:-1]:
        assert r.feed(raw) is None
    assert r.pending == 1
    assert r.feed(frames[-1]) == big_message
    assert r.pending == 0
    assert decode_message(big_message).payload == bytes(range(256)) * 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reassembly_out_of_order(big_message: bytes, frames: list[bytes], seed: int) -> None:
    order = frames[:]
    random.Random(seed).shuffle(order)
    r = Reassembler()
    results = [r.feed(raw) for raw in order]
    assert results[:-1] == [None] * (len(order) - 1)
    assert results[-1] == big_message


def test_reassembly_last_block_first(big_message: bytes, frames: list[bytes]) -> None:
    r = Reassembler()
    results = [r.feed(raw) for raw in reversed(frames)]
    assert results[-1] == big_message and set(results[:-1]) == {None}


def test_duplicates_are_ignored(big_message: bytes, frames: list[bytes]) -> None:
    r = Reassembler()
    assert r.feed(frames[0]) is None
    tampered = decode_gbt_frame(frames[0])
    tampered.data = b"X" * len(tampered.data)
    assert r.feed(tampered.encode()) is None  # same block number: the first one stays
    assert r.feed(frames[0]) is None
    for raw in frames[1:]:
        out = r.feed(raw)
    assert out == big_message


def test_acks_are_ignored(big_message: bytes, frames: list[bytes]) -> None:
    r = Reassembler()
    ack = GbtFrame(ROUTING, 0, 1).encode()
    assert r.feed(ack) is None
    assert r.pending == 0
    out = None
    for raw in frames:
        out = r.feed(raw)
        assert r.feed(ack) is None
    assert out == big_message


def test_block_zero_is_an_error() -> None:
    with pytest.raises(GbcsDecodeError, match="numbered from 1"):
        Reassembler().feed(GbtFrame(ROUTING, 0, 0, False, False, 1, b"data").encode())


def test_block_after_the_last_is_an_error() -> None:
    r = Reassembler()
    assert r.feed(GbtFrame(ROUTING, 2, 0, True, False, 1, b"second").encode()) is None
    with pytest.raises(GbcsDecodeError, match="after the last"):
        r.feed(GbtFrame(ROUTING, 3, 0, False, False, 1, b"third").encode())
    assert r.feed(GbtFrame(ROUTING, 1, 0, False, False, 1, b"first-").encode()) == b"first-second"


def test_interleaved_transfers(big_message: bytes, frames: list[bytes]) -> None:
    other_routing = RoutingHeader(Cra.COMMAND, ROUTING.originator_counter + 1, S, D, 0x0013)
    other = segment(b"another message", other_routing, 4)
    r = Reassembler()
    done = []
    for a, b in zip(frames, other, strict=False):
        done += [r.feed(a), r.feed(b)]
    for raw in frames[len(other) :] + other[len(frames) :]:
        done.append(r.feed(raw))
    assert big_message in done and b"another message" in done
    assert r.pending == 0


def test_oldest_transfer_is_evicted() -> None:
    r = Reassembler(max_transfers=2)
    for counter in (1, 2, 3):
        routing = RoutingHeader(Cra.COMMAND, counter, S, D, 0x0013)
        r.feed(GbtFrame(routing, 1, 0, False, False, 1, b"part").encode())
    assert r.pending == 2
    first = RoutingHeader(Cra.COMMAND, 1, S, D, 0x0013)
    # transfer 1 was dropped: its last block alone does not complete it
    assert r.feed(GbtFrame(first, 2, 0, True, False, 1, b"end").encode()) is None
    third = RoutingHeader(Cra.COMMAND, 3, S, D, 0x0013)
    assert r.feed(GbtFrame(third, 2, 0, True, False, 1, b"end").encode()) == b"partend"
