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


def test_connect_carries_the_will_flags_topic_and_payload() -> None:
    will = wire.Will("w/t", b"offline", qos=1, retain=True)
    packet = wire.connect_packet("id", 30, will=will)
    # fixed header, remaining length, "MQTT", level 4, flags, keepalive
    flags = packet[2 + 6 + 1]
    assert flags == 0x02 | 0x04 | (1 << 3) | 0x20  # clean, will, will QoS 1, will retain
    assert packet.endswith(b"\x00\x02id\x00\x03w/t\x00\x07offline")
    assert wire.connect_packet("id", 30)[2 + 6 + 1] == 0x02


async def _silent_broker(pings: list[float], answer_pings: bool) -> tuple[asyncio.Server, int]:
    """Accepts CONNECT, sends CONNACK, then answers PINGREQ only if told to."""
    loop = asyncio.get_running_loop()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readexactly(2)
        await reader.readexactly(first[1])  # CONNECT (short: one length byte)
        writer.write(b"\x20\x02\x00\x00")
        while True:
            try:
                head = await reader.readexactly(2)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if head == wire.PINGREQ:
                pings.append(loop.time())
                if answer_pings:
                    writer.write(b"\xd0\x00")
            else:
                await reader.readexactly(head[1])

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


@pytest.mark.parametrize("answer", [True, False], ids=["answered", "silent"])
async def test_keepalive_pings_and_a_silent_broker_is_a_lost_connection(answer: bool) -> None:
    pings: list[float] = []
    server, port = await _silent_broker(pings, answer)
    lost: list[BaseException | None] = []
    loop = asyncio.get_running_loop()
    try:
        began = loop.time()
        client = await wire.connect(
            "127.0.0.1", port, "ka", lambda *_: None, lost.append, keepalive=0.4
        )
        await asyncio.sleep(1.5)
        if answer:
            # Pinged every half keepalive, and answered: still connected.
            assert len(pings) >= 5
            assert lost == []
            client._check()
        else:
            # Silent for 1.5 x keepalive (0.6 s) after the CONNACK: lost, once, with a cause.
            assert len(lost) == 1 and isinstance(lost[0], LinkClosed)
            assert "1.5 x keepalive" in str(lost[0])
            assert 2 <= len(pings) <= 3
            assert pings[0] - began < 0.4
            with pytest.raises(LinkClosed):
                await client.publish("x", b"", qos=1)
        await client.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_a_dropped_connection_makes_the_broker_publish_the_will(broker_url: str) -> None:
    target = parse_mqtt_url(broker_url)
    got: asyncio.Queue[tuple[str, bytes, bool]] = asyncio.Queue()
    watcher = await wire.connect(
        target.host, target.port, "watcher", lambda t, p, r: got.put_nowait((t, p, r)), print
    )
    await watcher.subscribe([("will/+", 1)])
    will = wire.Will("will/dying", b"offline", qos=1, retain=True)
    dying = await wire.connect(
        target.host, target.port, "dying", lambda *_: None, lambda _: None, will=will
    )
    await dying.publish("will/dying", b"online", qos=1, retain=True)
    assert await asyncio.wait_for(got.get(), 5) == ("will/dying", b"online", False)
    assert dying.transport is not None
    dying.transport.abort()  # no DISCONNECT: as a killed process
    assert await asyncio.wait_for(got.get(), 5) == ("will/dying", b"offline", False)
    # Retained: a view subscribing later sees it too.
    late: asyncio.Queue[tuple[str, bytes, bool]] = asyncio.Queue()
    viewer = await wire.connect(
        target.host, target.port, "viewer", lambda t, p, r: late.put_nowait((t, p, r)), print
    )
    await viewer.subscribe([("will/dying", 1)])
    assert await asyncio.wait_for(late.get(), 5) == ("will/dying", b"offline", True)
    # A closed (DISCONNECT) connection sends no will.
    quiet = await wire.connect(
        target.host,
        target.port,
        "quiet",
        lambda *_: None,
        lambda _: None,
        will=wire.Will("will/quiet", b"offline"),
    )
    await quiet.close()
    await asyncio.sleep(0.3)
    assert got.empty()
    for c in (watcher, viewer):
        await c.close()
    # tidy the retained message for other tests on this broker
    cleaner = await wire.connect(target.host, target.port, "clean", lambda *_: None, print)
    await cleaner.publish("will/dying", b"", qos=1, retain=True)
    await cleaner.close()
