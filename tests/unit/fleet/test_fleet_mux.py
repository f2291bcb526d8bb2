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
