"""The MQTT link never waits forever on a broker connection it cannot trust.

No broker here: a fake aiomqtt client puts each race exactly where the join hang
of docs/testing.md "Known hang" suspected it (Python 3.11's `wait_for`, which
aiomqtt uses for every PUBACK, returning normally when a cancellation lands as
its future completes; a reconnect that ends without waking the senders).
"""

from __future__ import annotations

import asyncio
from typing import Any

from han_support import HUB, METER

from emulator.errors import LinkClosed
from emulator.han.envelope import Envelope, EnvelopeKind
from emulator.han.mqtt import MqttLink

#: Only a guard against a regression hanging the suite: each wait ends in milliseconds.
GUARD_S = 10.0


class FakeClient:
    """Enough of `aiomqtt.Client` for `MqttLink._send` and `_close`: publish waits
    for its PUBACK (`ack`) the way aiomqtt does, with `asyncio.wait_for`."""

    def __init__(self) -> None:
        self.ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.published: list[str] = []

    async def publish(self, topic: str, payload: bytes, **kwargs: Any) -> None:
        self.published.append(topic)
        if self.ack.done():
            return
        await asyncio.wait_for(self.ack, 10)


def _open_link(client: FakeClient | None, **options: Any) -> MqttLink:
    """A link that looks connected through `client` (or mid-reconnect without one)."""
    link = MqttLink("mqtt://127.0.0.1:1/lab", local=[HUB], **options)
    link._client = client  # type: ignore[assignment]
    link._opened = True
    return link


def _raw() -> bytes:
    return Envelope(HUB, METER, EnvelopeKind.GBCS, b"\x01\x02", 1).encode()


async def test_a_cancellation_arriving_with_the_puback_is_not_lost() -> None:
    client = FakeClient()
    link = _open_link(client)
    sending = asyncio.ensure_future(link._send(_raw()))
    for _ in range(3):
        await asyncio.sleep(0)
    assert client.published  # waiting for its PUBACK inside wait_for
    client.ack.set_result(None)  # the PUBACK and the cancellation in one loop turn
    sending.cancel()
    await asyncio.wait({sending}, timeout=GUARD_S)
    assert sending.cancelled(), "the sender went on as if it had not been cancelled"
    client.ack = asyncio.get_running_loop().create_future()
    client.ack.set_result(None)
    await link.close()


async def test_a_reconnect_that_fails_unexpectedly_wakes_a_waiting_sender() -> None:
    link = _open_link(None, send_timeout=None, reconnect_delays=(0.0,))

    async def dial() -> Any:
        raise RuntimeError("not an MqttError")

    link._dial = dial  # type: ignore[method-assign]
    link._up.clear()
    link._reconnecting = asyncio.ensure_future(link._reconnect(ConnectionResetError("drop")))
    sending = asyncio.ensure_future(link.send_raw(_raw()))
    await asyncio.wait({sending}, timeout=GUARD_S)
    assert sending.done(), "a sender still waits for a reconnect that ended"
    assert isinstance(sending.exception(), LinkClosed)
    assert isinstance(link.lost, RuntimeError)
    await link.close()


async def test_close_ends_a_reconnect_that_survives_its_cancellation() -> None:
    link = _open_link(None)
    survived = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            survived.set()  # as a cancellation lost in aiomqtt's wait_for
        await asyncio.sleep(3600)

    link._reconnecting = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(link.close())
    await asyncio.wait({closing}, timeout=GUARD_S)
    assert survived.is_set()
    assert closing.done(), "close still waits for the reconnect task"
    assert link._reconnecting is None
