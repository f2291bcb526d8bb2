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


class _FreezableProxy:
    """A TCP relay to the broker that can freeze: sockets stay open, nothing passes.

    What a hung broker, a half-open connection or a partitioned node look like to a
    client: only the keepalive check can tell.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.frozen = False
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, up_writer]
        frozen_at_start = self.frozen

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if self.frozen and not frozen_at_start:
                    continue  # swallowed: the peer hears nothing, the socket stays open
                dst.write(data)

        await asyncio.gather(
            pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
        )

    async def close(self) -> None:
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()


async def test_a_mux_notices_a_frozen_broker_by_its_keepalive_and_connects_again(
    broker_url: str,
) -> None:
    from emulator.han.envelope import Envelope, EnvelopeKind
    from hil.fleet import wire

    target = parse_mqtt_url(broker_url)
    proxy = _FreezableProxy(target.host, target.port)
    port = await proxy.start()
    will = wire.Will("t-frozen/mux", b"offline")
    shared = mux.Mux(f"mqtt://127.0.0.1:{port}", will=will, keepalive=0.5)
    await shared.open()
    mux._MUXES["t-frozen"] = shared
    try:
        hub = await open_link(f"{mux.SCHEME}://t-frozen/lab3", local=[LATE]).open()
        meter = await open_link(f"{mux.SCHEME}://t-frozen/lab3", local=[METER]).open()
        first = shared._client
        proxy.frozen = True  # the old connection goes silent both ways; new ones pass
        loop = asyncio.get_running_loop()
        frozen_at = loop.time()
        while shared.reconnects == 0:
            assert loop.time() - frozen_at < 5, "the frozen connection was never noticed"
            await asyncio.sleep(0.05)
        # Noticed after 1.5 x keepalive of silence (0.75 s), not before.
        assert loop.time() - frozen_at >= 0.7
        assert shared._client is not first and proxy.connections == 2
        await hub.send(Envelope(LATE, METER, EnvelopeKind.GBCS, b"after"))
        assert (await meter.recv(timeout=5)).payload == b"after"
        # A broker that drops the frozen connection by its own keepalive check publishes
        # its will, maybe after the new connection said online: the mux says online again
        # once that must have happened (1.5 x 1 s + 1 s here).
        await asyncio.sleep(max(0.0, frozen_at + 3.0 - loop.time()))
        assert await _retained(broker_url, "t-frozen/mux") == b"online"
        await hub.close()
        await meter.close()
    finally:
        await mux.unregister("t-frozen")
        await proxy.close()
    assert await _retained(broker_url, "t-frozen/mux") == b"offline"  # closed cleanly
