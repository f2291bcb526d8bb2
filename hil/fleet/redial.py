"""A lean MQTT connection that connects again after a drop: what `Control` and `Mux` share.

A fleet's control connections (`hil.fleet.control`) and a worker's shared
connection (`hil.fleet.mux`) must both outlive a broker restart. The parts that
make that safe are subtle (a late ``connection_lost`` of an old connection must
not start a second reconnect, hence the generation number; a publish caught by
the drop is sent once more on the new connection), so they live here once and
the two connections differ only in what they say around them: what a fresh
connection needs before it is used (`_restore`), what follows a reconnect
(`_resumed`), and what giving up means (`_gave_up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Final

from emulator.errors import LinkClosed, LinkError
from emulator.han.mqtt import parse_mqtt_url
from hil.fleet import wire

log = logging.getLogger(__name__)

#: Seconds before each attempt to connect again; with no limit on attempts the last is
#: repeated until `close`.
RECONNECT_DELAYS: Final = (0.1, 0.5, 1.0, 2.0, 4.0)


class Redialing:
    """One lean MQTT connection, connected again with backoff when it drops.

    `attempts` bounds the attempts after one drop (then `_gave_up` runs and the
    connection stays closed); None tries on until `close`, for connections whose
    callers each have their own deadline.
    """

    def __init__(
        self,
        broker: str,
        client_name: str,
        label: str,
        *,
        will: wire.Will | None,
        keepalive: float,
        timeout: float,
        attempts: int | None,
        delays: tuple[float, ...] = RECONNECT_DELAYS,
    ) -> None:
        self.broker = broker
        self.will = will
        self.keepalive = keepalive
        self.reconnects = 0
        self.retried = 0
        #: Seconds the connection was down in total (outages that ended).
        self.down_s = 0.0
        self._client_name = client_name
        #: Names the connection in log lines (the broker URL redacted).
        self._label = label
        self._timeout = timeout
        self._attempts = attempts
        self._delays = delays
        self._client: wire.LeanClient | None = None
        self._generation = 0
        self._ready = asyncio.Event()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        return self._client is not None

    # What the two connections say differently.

    def _deliver(self, topic: str, payload: bytes, retain: bool) -> None:
        raise NotImplementedError

    async def _restore(self, client: wire.LeanClient) -> None:
        """Make a fresh connection usable (subscribe, announce); LinkError fails the attempt."""

    async def _resumed(self, client: wire.LeanClient) -> None:
        """After a reconnect, once `client` is in use."""

    def _gave_up(self, cause: BaseException) -> None:
        """Every attempt failed; the connection is closed for good."""

    async def _last_words(self, client: wire.LeanClient) -> None:
        """Before `close` disconnects `client`."""

    # The shared part.

    async def open(self) -> None:
        """Connect and restore; LinkError when the broker cannot be reached now."""
        client = await self._connect()
        self._client = client
        self._ready.set()

    async def _connect(self) -> wire.LeanClient:
        target = parse_mqtt_url(self.broker)
        self._generation += 1
        generation = self._generation
        client = await wire.connect(
            target.host,
            target.port,
            f"smets-fleet-{self._client_name}-{secrets.token_hex(4)}",
            self._deliver,
            lambda exc: self._lost(generation, exc),
            keepalive=self.keepalive,
            timeout=self._timeout,
            username=target.username,
            password=target.password,
            will=self.will,
        )
        try:
            await self._restore(client)
        except LinkError:
            await client.close()
            raise
        return client

    def _lost(self, generation: int, exc: BaseException | None) -> None:
        if generation != self._generation or exc is None or self._closed:
            return  # an earlier connection, or our own close
        self._client = None
        self._ready.clear()
        log.warning("%s lost (%s); connecting again", self._label, exc)
        self._reconnecting = asyncio.create_task(self._reconnect(exc))

    async def _reconnect(self, cause: BaseException) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        attempt = 0
        while not self._closed and (self._attempts is None or attempt < self._attempts):
            delay = self._delays[min(attempt, len(self._delays) - 1)]
            attempt += 1
            await asyncio.sleep(delay)
            try:
                client = await self._connect()
            except LinkError as exc:
                # Tried on without limit, failures are routine; bounded, each one matters.
                level = logging.INFO if self._attempts is None else logging.WARNING
                log.log(level, "%s: reconnect %d failed: %s", self._label, attempt, exc)
                continue
            self._client = client
            self.reconnects += 1
            self.down_s += loop.time() - began
            self._ready.set()
            log.warning(
                "%s back after %.1f s (attempt %d)", self._label, loop.time() - began, attempt
            )
            await self._resumed(client)
            return
        if self._closed:
            return
        log.error("%s: gave up reconnecting after %d attempts: %s", self._label, attempt, cause)
        self._closed = True
        self._ready.set()  # wake waiting publishers: they find no connection and fail
        self._gave_up(cause)

    async def _connected(self, wait: float | None) -> wire.LeanClient:
        """The connection, waiting up to `wait` seconds (None: no limit) for a reconnect."""
        if self._client is None and not self._closed and self._reconnecting is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait)
        if self._client is not None:
            return self._client
        if self._closed:
            raise LinkClosed(f"{self._label} is closed")
        if wait is not None and self._reconnecting is not None:
            raise LinkClosed(f"{self._label} down for over {wait:.0f} s")
        raise LinkClosed(f"{self._label} is not connected")

    async def _publish(
        self, topic: str, payload: bytes, qos: int, retain: bool, wait: float | None
    ) -> None:
        """Publish; once more on the next connection if a drop catches it (LinkClosed if not)."""
        client = self._client or await self._connected(wait)
        try:
            await client.publish(topic, payload, qos, retain)
        except LinkClosed:
            if self._closed:
                raise
            self.retried += 1
            log.info("%s: publish on %s caught by a reconnect, sent again", self._label, topic)
            for _ in range(100):  # its connection_lost may still be on the loop's queue
                if self._client is not client:
                    break
                await asyncio.sleep(0.01)
            await (await self._connected(wait)).publish(topic, payload, qos, retain)

    async def close(self) -> None:
        """Disconnect (the will is not sent); stops reconnecting."""
        self._closed = True
        reconnecting, self._reconnecting = self._reconnecting, None
        if reconnecting is not None:
            reconnecting.cancel()
            await asyncio.wait({reconnecting})
        client, self._client = self._client, None
        self._ready.set()
        if client is not None:
            await self._last_words(client)
            await client.close()
