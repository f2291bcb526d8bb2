"""The lean MQTT client of a worker's mux: packets, and traffic through real brokers."""

from __future__ import annotations

import asyncio

import pytest

from emulator.errors import LinkClosed
from emulator.han.mqtt import parse_mqtt_url
from hil.fleet import wire


def test_remaining_length_uses_seven_bits_per_byte() -> None:
    assert wire._length(0) == b"\x00"
    assert wire._length(127) == b"\x7f"
    assert wire._length(128) == b"\x80\x01"
    assert wire._length(16_383) == b"\xff\x7f"
    assert wire._length(2_097_152) == b"\x80\x80\x80\x01"


async def test_packets_split_and_joined_anyhow_are_all_delivered() -> None:
    got: list[tuple[str, bytes, bool]] = []
    client = wire.LeanClient(lambda t, p, r: got.append((t, p, r)), lambda exc: None)
    big = bytes(range(256)) * 3  # a remaining length of two bytes
    stream = (
        wire.publish_packet("a/b", b"one", 0, False, 0)
        + wire.publish_packet("a/c", big, 0, True, 0)
        + b"\xd0\x00"  # PINGRESP
        + wire.publish_packet("a/d", b"", 0, False, 0)
    )
    for size in (1, 2, 7, len(stream)):
        got.clear()
        for at in range(0, len(stream), size):
            client.data_received(stream[at : at + size])
        assert got == [("a/b", b"one", False), ("a/c", big, True), ("a/d", b"", False)]


async def test_publish_subscribe_and_loss_through_the_broker(broker_url: str) -> None:
    target = parse_mqtt_url(broker_url)
    got: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    lost: list[BaseException | None] = []

    def on_message(topic: str, payload: bytes, retain: bool) -> None:
        got.put_nowait((topic, payload))

    client = await wire.connect(target.host, target.port, "lean-test", on_message, lost.append)
    assert await client.subscribe([("x/1", 1), ("y/+", 0)]) == [1, 0]
    await client.publish("x/1", b"\x00\x01", qos=1)
    await client.publish("y/2", b"zero", qos=0)
    received = {await asyncio.wait_for(got.get(), 5) for _ in range(2)}
    assert received == {("x/1", b"\x00\x01"), ("y/2", b"zero")}
    assert client.transport is not None
    client.transport.abort()  # the connection drops under the client
    await asyncio.sleep(0.1)
    assert len(lost) == 1 and lost[0] is not None
    with pytest.raises(LinkClosed):
        await client.publish("x/1", b"late", qos=1)
    await client.close()
    assert len(lost) == 1
