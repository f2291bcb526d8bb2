"""A coordinator's or worker's control connection: an MQTT client that outlives a broker restart.

The run must not die with its control connection: a broker restarted mid-run
(or a cluster node that drops its clients) would otherwise end the coordinator
with a traceback or leave a worker deaf to ``stop``. `Control` keeps one lean
MQTT connection (`hil.fleet.wire`); when it drops it connects again with
backoff (`RECONNECT_DELAYS`, the last delay repeated until `close`: every wait
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

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

from emulator.errors import LinkClosed, LinkError
from emulator.han.mqtt import parse_mqtt_url, redact
from hil.fleet import wire
from hil.fleet.protocol import KEEPALIVE_S, FleetError

log = logging.getLogger(__name__)

#: Seconds before each attempt to connect again; the last is repeated until `close`.
RECONNECT_DELAYS: Final = (0.1, 0.5, 1.0, 2.0, 4.0)
#: Seconds a QoS 1 publish waits for a lost connection to come back.
PUBLISH_WAIT_S: Final = 30.0

#: Called with (topic, payload, retain) for every message on a subscribed topic.
OnMessage = Callable[[str, bytes, bool], None]


class Control:
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
        self.broker = broker
        self.name = name
        self.subscriptions = list(subscriptions)
        self.on_message = on_message
        self.will = will
        self.keepalive = keepalive
        self.on_connect = on_connect
        self.reconnects = 0
        self.retried = 0
        self.dropped = 0
        #: Seconds the connection was down in total (outages that ended).
        self.down_s = 0.0
        self._client: wire.LeanClient | None = None
        self._generation = 0
        self._ready = asyncio.Event()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def open(self) -> None:
        """Connect and subscribe; a broker that cannot be reached now is a `FleetError`."""
        try:
            client = await self._dial()
            await self._subscribe(client)
        except LinkError as exc:
            where = redact(self.broker)
            raise FleetError(f"{where}: cannot connect to the broker: {exc}") from None
        self._client = client
        self._ready.set()

    async def _dial(self) -> wire.LeanClient:
        target = parse_mqtt_url(self.broker)
        self._generation += 1
        generation = self._generation
        return await wire.connect(
            target.host,
            target.port,
            f"smets-fleet-{self.name}-{secrets.token_hex(4)}",
            self._deliver,
            lambda exc: self._lost(generation, exc),
            keepalive=self.keepalive,
            timeout=10.0,
            username=target.username,
            password=target.password,
            will=self.will,
        )

    async def _subscribe(self, client: wire.LeanClient) -> None:
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

    def _lost(self, generation: int, exc: BaseException | None) -> None:
        if generation != self._generation or exc is None or self._closed:
            return
        self._client = None
        self._ready.clear()
        log.warning(
            "%s: control connection to %s lost (%s); connecting again",
            self.name,
            redact(self.broker),
            exc,
        )
        self._reconnecting = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        attempt = 0
        while not self._closed:
            delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
            attempt += 1
            await asyncio.sleep(delay)
            client: wire.LeanClient | None = None
            try:
                client = await self._dial()
                await self._subscribe(client)
            except LinkError as exc:
                log.info("%s: reconnect %d failed: %s", self.name, attempt, exc)
                if client is not None:
                    await client.close()
                continue
            self._client = client
            self.reconnects += 1
            self.down_s += loop.time() - began
            self._ready.set()
            log.warning(
                "%s: control connection back after %.1f s (attempt %d); %d QoS 0 "
                "message(s) dropped so far, messages sent to us meanwhile are lost",
                self.name,
                loop.time() - began,
                attempt,
                self.dropped,
            )
            if self.on_connect is not None:
                try:
                    await self.on_connect()
                except (LinkError, FleetError) as exc:
                    log.warning("%s: after reconnecting: %s", self.name, exc)
            return

    async def _connected(self, wait: float) -> wire.LeanClient:
        if self._client is None and not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait)
        if self._client is None:
            raise FleetError(
                f"{redact(self.broker)}: control connection down for over {wait:.0f} s"
                if not self._closed
                else f"{self.name}: control connection closed"
            )
        return self._client

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        """Publish; QoS 0 while disconnected is dropped (counted), returning False."""
        client = self._client
        if qos == 0:
            if client is None:
                self.dropped += 1
                return False
            try:
                client.publish_nowait(topic, payload, retain)
            except LinkClosed:
                self.dropped += 1
                return False
            return True
        client = client or await self._connected(PUBLISH_WAIT_S)
        try:
            await client.publish(topic, payload, qos, retain)
        except LinkClosed:
            if self._closed:
                raise FleetError(f"{self.name}: control connection closed") from None
            self.retried += 1
            log.info("%s: publish on %s caught by a reconnect, sent again", self.name, topic)
            for _ in range(100):  # its connection_lost may still be on the loop's queue
                if self._client is not client:
                    break
                await asyncio.sleep(0.01)
            client = await self._connected(PUBLISH_WAIT_S)
            try:
                await client.publish(topic, payload, qos, retain)
            except LinkClosed as exc:
                raise FleetError(f"{self.name}: publish on {topic} failed twice: {exc}") from None
        return True

    async def close(self) -> None:
        """Disconnect (no will); stops reconnecting."""
        self._closed = True
        reconnecting, self._reconnecting = self._reconnecting, None
        if reconnecting is not None:
            reconnecting.cancel()
            await asyncio.wait({reconnecting})
        client, self._client = self._client, None
        self._ready.set()
        if client is not None:
            await client.close()

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
