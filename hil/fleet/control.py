"""A coordinator's or worker's control connection: an MQTT client that outlives a broker restart.

The run must not die with its control connection: a broker restarted mid-run
(or a cluster node that drops its clients) would otherwise end the coordinator
with a traceback or leave a worker deaf to ``stop``. `Control` keeps one lean
MQTT connection (`hil.fleet.wire`); when it drops it connects again with
backoff (`hil.fleet.redial`, the last delay repeated until `close`: every wait
of a run has its own deadline, so trying on is what lets a run resume after a
long outage), subscribes its topics again and publishes ``online``-style
state again through `on_connect`.

What an outage costs, counted and logged, never silent:

- `dropped`: QoS 0 messages (beats) not sent because the connection was down;
- `retried`: QoS 1 publishes caught by the drop and sent again after it;
- messages the broker had for us meanwhile are lost (clean sessions): the
  callers' protocol tolerates that (the coordinator repeats the config, ``done``
  is retained, beats carry running totals).

A QoS 1 publish waits at most `PUBLISH_WAIT_S` for the connection to come back,
then raises `FleetError`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from emulator.errors import LinkClosed, LinkError
from emulator.han.mqtt import redact
from hil.fleet import wire
from hil.fleet.protocol import KEEPALIVE_S, FleetError
from hil.fleet.redial import Redialing

log = logging.getLogger(__name__)

#: Seconds a QoS 1 publish waits for a lost connection to come back.
PUBLISH_WAIT_S: Final = 30.0

#: Called with (topic, payload, retain) for every message on a subscribed topic.
OnMessage = Callable[[str, bytes, bool], None]


class Control(Redialing):
    """A reconnecting MQTT client for control topics (see the module docstring)."""

    def __init__(
        self,
        broker: str,
        name: str,
        subscriptions: list[str],
        on_message: OnMessage,
        *,
        will: wire.Will | None = None,
        keepalive: float = KEEPALIVE_S,
        on_connect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(
            broker,
            name,
            f"{name}: control connection to {redact(broker)}",
            will=will,
            keepalive=keepalive,
            timeout=10.0,
            attempts=None,
        )
        self.name = name
        self.subscriptions = list(subscriptions)
        self.on_message = on_message
        self.on_connect = on_connect
        self.dropped = 0

    async def open(self) -> None:
        """Connect and subscribe; a broker that cannot be reached now is a `FleetError`."""
        try:
            await super().open()
        except LinkError as exc:
            where = redact(self.broker)
            raise FleetError(f"{where}: cannot connect to the broker: {exc}") from None

    async def _restore(self, client: wire.LeanClient) -> None:
        if not self.subscriptions:
            return
        granted = await client.subscribe([(t, 1) for t in self.subscriptions])
        refused = [t for t, code in zip(self.subscriptions, granted, strict=False) if code >= 0x80]
        if refused:
            raise LinkError(f"broker refused subscription to {refused}")

    def _deliver(self, topic: str, payload: bytes, retain: bool) -> None:
        try:
            self.on_message(topic, payload, retain)
        except Exception:  # one bad message must not end the connection
            log.exception("%s: control message on %s not handled", self.name, topic)

    async def _resumed(self, client: wire.LeanClient) -> None:
        log.info(
            "%s: %d QoS 0 message(s) dropped so far; messages sent to us meanwhile are lost",
            self.name,
            self.dropped,
        )
        if self.on_connect is not None:
            try:
                await self.on_connect()
            except (LinkError, FleetError) as exc:
                log.warning("%s: after reconnecting: %s", self.name, exc)

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        """Publish; QoS 0 while disconnected is dropped (counted), returning False."""
        if qos == 0:
            client = self._client
            if client is None:
                self.dropped += 1
                return False
            try:
                client.publish_nowait(topic, payload, retain)
            except LinkClosed:
                self.dropped += 1
                return False
            return True
        try:
            await self._publish(topic, payload, qos, retain, PUBLISH_WAIT_S)
        except LinkClosed as exc:
            raise FleetError(f"{self.name}: publish on {topic} failed: {exc}") from None
        return True

    def counters(self) -> dict[str, float]:
        return {
            "reconnects": self.reconnects,
            "retried": self.retried,
            "dropped": self.dropped,
            "down_s": round(self.down_s, 2),
        }


@contextlib.asynccontextmanager
async def opened(control: Control) -> AsyncIterator[Control]:
    """`control`, open for the block and closed after it."""
    await control.open()
    try:
        yield control
    finally:
        await control.close()
