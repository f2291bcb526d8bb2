"""Links on a worker's shared connection announce their devices like their own connections do."""

from __future__ import annotations

import asyncio

import aiomqtt

from emulator.gbcs.eui import Eui64
from emulator.han.link import open_link
from emulator.han.mqtt import parse_mqtt_url, status_topic
from hil.fleet import mux

METER = Eui64(bytes.fromhex("0011223344556677"))
LATE = Eui64(bytes.fromhex("0011223344556688"))


async def _retained(broker_url: str, topic: str) -> bytes:
    """The retained payload a fresh subscriber gets on `topic`."""
    target = parse_mqtt_url(broker_url)
    async with aiomqtt.Client(target.host, target.port, identifier=f"probe-{topic[-4:]}") as probe:
        await probe.subscribe(topic, qos=1)
        async with asyncio.timeout(5):
            async for message in probe.messages:
                if message.topic.value == topic and message.retain:
                    assert isinstance(message.payload, bytes)
                    return message.payload
    raise AssertionError("unreachable")


async def test_mux_links_publish_retained_online_and_offline(broker_url: str) -> None:
    await mux.register("t-presence", broker_url)
    try:
        link = await open_link(f"{mux.SCHEME}://t-presence/lab1", local=[METER]).open()
        assert await _retained(broker_url, status_topic("lab1", bytes(METER))) == b"online"
        await link.bind(LATE)
        assert await _retained(broker_url, status_topic("lab1", bytes(LATE))) == b"online"
        await link.close()
        assert await _retained(broker_url, status_topic("lab1", bytes(METER))) == b"offline"
        assert await _retained(broker_url, status_topic("lab1", bytes(LATE))) == b"offline"
    finally:
        await mux.unregister("t-presence")


async def test_a_mux_whose_connection_drops_connects_again_and_keeps_its_links(
    broker_url: str,
) -> None:
    from emulator.han.envelope import Envelope, EnvelopeKind

    shared = await mux.register("t-drop", broker_url)
    try:
        hub = await open_link(f"{mux.SCHEME}://t-drop/lab2", local=[LATE]).open()
        meter = await open_link(f"{mux.SCHEME}://t-drop/lab2", local=[METER]).open()
        before = Envelope(LATE, METER, EnvelopeKind.GBCS, b"before")
        await hub.send(before)
        assert (await meter.recv(timeout=5)).payload == b"before"
        client = shared._client
        assert client is not None and client.transport is not None
        client.transport.abort()  # the broker connection drops under every link
        await hub.send(Envelope(LATE, METER, EnvelopeKind.GBCS, b"during"))
        assert (await meter.recv(timeout=10)).payload == b"during"
        await meter.send(Envelope(METER, LATE, EnvelopeKind.GBCS, b"after"))
        assert (await hub.recv(timeout=5)).payload == b"after"
        assert shared.reconnects == 1
        assert shared._client is not client
        await hub.close()
        await meter.close()
    finally:
        await mux.unregister("t-drop")
