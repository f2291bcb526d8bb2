"""The HAN envelope: golden bytes both ways, and every malformation named."""

from __future__ import annotations

import contextlib

import pytest
from han_support import HUB, METER
from hypothesis import given
from hypothesis import strategies as st

from emulator.errors import GbcsDecodeError, GbcsEncodeError
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import BROADCAST, HEADER, MAX_PAYLOAD, Envelope, EnvelopeKind

# version, kind GBCS, sequence 0x7D, source, destination, payload length 3, payload
GOLDEN = bytes.fromhex("01 01 0000007d 00db1234567890a0 00db1234567890b1 0003 7e017d")
GOLDEN_ENV = Envelope(METER, HUB, EnvelopeKind.GBCS, bytes.fromhex("7e017d"), sequence=0x7D)


def test_golden_encode() -> None:
    assert GOLDEN_ENV.encode() == GOLDEN


def test_golden_decode() -> None:
    env = Envelope.decode(GOLDEN)
    assert env == GOLDEN_ENV
    assert isinstance(env.source, Eui64) and isinstance(env.destination, Eui64)
    assert env.kind is EnvelopeKind.GBCS


def test_header_is_24_bytes() -> None:
    assert HEADER.size == 24


def test_sequence_wraps_on_encode() -> None:
    raw = Envelope(METER, HUB, EnvelopeKind.ACK, sequence=(1 << 32) + 5).encode()
    assert raw[2:6] == bytes.fromhex("00000005")


def test_broadcast_address() -> None:
    assert BROADCAST == b"\xff" * 8
    raw = Envelope(METER, BROADCAST, EnvelopeKind.WAKE).encode()
    assert raw[14:22] == b"\xff" * 8


@given(
    kind=st.sampled_from(list(EnvelopeKind)),
    payload=st.binary(max_size=300),
    sequence=st.integers(0, 0xFFFFFFFF),
    source=st.binary(min_size=8, max_size=8),
    destination=st.binary(min_size=8, max_size=8),
)
def test_round_trip(
    kind: EnvelopeKind, payload: bytes, sequence: int, source: bytes, destination: bytes
) -> None:
    env = Envelope(Eui64(source), Eui64(destination), kind, payload, sequence)
    assert Envelope.decode(env.encode()) == env


def test_payload_too_long_to_encode() -> None:
    with pytest.raises(GbcsEncodeError) as err:
        Envelope(METER, HUB, EnvelopeKind.GBCS, bytes(MAX_PAYLOAD + 1)).encode()
    assert err.value.field == "envelope.payload"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "envelope"),
        (GOLDEN[:23], "envelope"),
        (b"\x02" + GOLDEN[1:], "envelope.version"),
        (GOLDEN[:1] + b"\x00" + GOLDEN[2:], "envelope.kind"),
        (GOLDEN[:1] + b"\x63" + GOLDEN[2:], "envelope.kind"),
        (GOLDEN[:-1], "envelope.length"),
        (GOLDEN + b"\x00", "envelope.length"),
    ],
    ids=["empty", "short-header", "version", "kind-0", "kind-99", "truncated", "trailing"],
)
def test_malformed_is_a_named_decode_error(raw: bytes, field: str) -> None:
    with pytest.raises(GbcsDecodeError) as err:
        Envelope.decode(raw)
    assert err.value.field == field


@given(st.binary(max_size=64))
def test_decode_never_raises_anything_else(raw: bytes) -> None:
    with contextlib.suppress(GbcsDecodeError):
        Envelope.decode(raw)
