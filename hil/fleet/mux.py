"""One broker connection for all the premises of a worker: a multiplexing MQTT link.

A worker holding 1,000 premises with one MQTT client per hub and per device has
4,000 clients, each with its own socket, keepalive housekeeping and tasks. With
``mux`` on, every link of the worker on one broker shares one `Mux` (one aiomqtt
client): each link subscribes to the same topics an `MqttLink` would
(``smets/<lab>/han/<eui>`` per local address and the lab's broadcast topic) and
the mux hands each message to the inboxes subscribed to its topic. On the wire
it is the same topic tree and payloads as docs/wire-protocol.md, so devices on
a mux and devices on their own connections talk to each other. Each link
publishes its addresses' retained ``online`` on open and bind and ``offline`` on
close, as an `MqttLink` does. A connection has one last will, not one per
device: the mux's will (given by the worker) is a retained ``offline`` on a
topic of the mux itself, and ``online`` is published there on every connect.
The devices' own status topics of a worker killed outright are set
``offline`` by the coordinator when that worker's will arrives (see
`hil.fleet.coordinator`); after a reconnect the mux publishes the retained
status of every address again, since the broker may have lost them with a
restart.

URLs are ``fleetmux://<key>/<lab>``, where `key` names a mux registered with
`register` in this process; `open_link` finds the backend through
`emulator.han.link.BACKENDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Iterable
from typing import Any, Final

from emulator.errors import LinkClosed, LinkError
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import BROADCAST
from emulator.han.link import BACKENDS, EuiLike, Inbox, Link, peek_destination
from emulator.han.mqtt import OFFLINE, ONLINE, han_topic, redact, status_topic
from hil.fleet import wire
from hil.fleet.redial import RECONNECT_DELAYS, Redialing

log = logging.getLogger(__name__)

SCHEME: Final = "fleetmux"
BACKENDS.setdefault(SCHEME, "hil.fleet.mux:MuxLink")

_MUXES: dict[str, Mux] = {}


#: Topics per SUBSCRIBE when subscribing everything again after a reconnect.
RESUBSCRIBE_BATCH: Final = 200
#: Attempts to connect again after one drop before the links are closed.
RECONNECT_ATTEMPTS: Final = len(RECONNECT_DELAYS)
#: Seconds of MQTT keepalive: a broker silent 1.5x this long is a lost connection.
KEEPALIVE_S: Final = 30


class Mux(Redialing):
    """One broker connection shared by many links; messages routed to inboxes by topic.

    The connection is `hil.fleet.wire`'s lean client: a received envelope goes
    from the socket to its inboxes in one callback. When the connection drops
    (a broker restart, a session the broker ended), the mux connects again
    (`hil.fleet.redial`, at most `RECONNECT_ATTEMPTS` times), subscribes every
    routed topic again and keeps its links open; a publish caught by the drop
    is sent once more on the new connection (`retried`). A repeated envelope is
    harmless: devices refuse a replayed counter and the hub matches one
    response per request. Envelopes the broker had for us while we were away
    are lost (clean sessions): those requests time out and are counted as
    failed. Only when every attempt fails are the links closed.
    """

    def __init__(
        self,
        broker: str,
        qos: int = 1,
        will: wire.Will | None = None,
        keepalive: float = KEEPALIVE_S,
    ) -> None:
        #: `will` is published by the broker (retained) when this connection ends
        #: unannounced; ``online`` goes to the same topic on every connect.
        super().__init__(
            broker,
            "mux",
            f"{redact(broker)}: mux",
            will=will,
            keepalive=keepalive,
            timeout=30.0,
            attempts=RECONNECT_ATTEMPTS,
        )
        self.qos = qos
        #: The last retained status published per status topic, published again after a
        #: reconnect (a restarted broker may have forgotten retained messages).
        self._presence: dict[str, bytes] = {}
        self.routes: dict[str, list[Inbox]] = {}
        #: The topics each inbox is routed from (closing 1,000 links is not quadratic).
        self._topics_of: dict[Inbox, list[str]] = {}
        self.dropped = 0
        self._later: asyncio.Task[None] | None = None

    async def _announce(self, client: wire.LeanClient) -> None:
        """``online`` on the will's topic: cleared by the will when this connection dies."""
        if self.will is not None:
            await client.publish(self.will.topic, ONLINE, 1, retain=True)

    async def _restore(self, client: wire.LeanClient) -> None:
        """Subscribe every routed topic and republish every status (none yet on `open`)."""
        topics = list(self.routes)
        for at in range(0, len(topics), RESUBSCRIBE_BATCH):
            batch = topics[at : at + RESUBSCRIBE_BATCH]
            await client.subscribe([(t, self.qos) for t in batch])
        await self._announce(client)
        presence = list(self._presence.items())
        for at in range(0, len(presence), RESUBSCRIBE_BATCH):
            await asyncio.gather(
                *(
                    client.publish(status, value, 1, retain=True)
                    for status, value in presence[at : at + RESUBSCRIBE_BATCH]
                )
            )

    async def _resumed(self, client: wire.LeanClient) -> None:
        if self.will is not None:
            self._later = asyncio.create_task(self._announce_later(client))

    def _gave_up(self, cause: BaseException) -> None:
        self._close_inboxes(LinkClosed(f"{self.broker}: broker connection lost: {cause}"))

    async def _last_words(self, client: wire.LeanClient) -> None:
        if self.will is not None:  # a clean close says what the will would have said
            with contextlib.suppress(LinkError, TimeoutError):
                await asyncio.wait_for(
                    client.publish(self.will.topic, self.will.payload, 1, retain=True), 5.0
                )

    async def close(self) -> None:
        await super().close()
        later, self._later = self._later, None
        if later is not None:
            later.cancel()
            await asyncio.wait({later})
        self._close_inboxes(LinkClosed(f"{self.broker}: mux closed"))

    def _close_inboxes(self, error: LinkClosed) -> None:
        for inboxes in self.routes.values():
            for inbox in inboxes:
                inbox.close(error)
        self.routes.clear()
        self._topics_of.clear()

    def _deliver(self, topic: str, payload: bytes, retain: bool) -> None:
        inboxes = self.routes.get(topic)
        if retain or not inboxes:
            self.dropped += 1
            return
        for inbox in inboxes:
            if not inbox.put(payload):
                self.dropped += 1

    async def _announce_later(self, client: wire.LeanClient) -> None:
        """Say ``online`` again once the broker has surely dropped the connection we left.

        A connection we gave up on as silent (a half-open socket, a frozen broker)
        may still be open at the broker, which publishes its will only when its own
        keepalive check drops it: after our new connection said ``online``.
        """
        await asyncio.sleep(1.5 * max(1, math.ceil(self.keepalive)) + 1.0)
        if self._client is client and not self._closed:
            with contextlib.suppress(LinkError):
                await self._announce(client)

    async def subscribe(self, topics: Iterable[str], inbox: Inbox) -> None:
        new = []
        for topic in topics:
            inboxes = self.routes.setdefault(topic, [])
            if not inboxes:
                new.append(topic)
            if inbox not in inboxes:
                inboxes.append(inbox)
                self._topics_of.setdefault(inbox, []).append(topic)
        if new:
            client = await self._connected(None)
            granted = await client.subscribe([(t, self.qos) for t in new])
            refused = [t for t, code in zip(new, granted, strict=False) if code >= 0x80]
            if refused:
                raise LinkError(f"{self.broker}: broker refused subscription to {refused}")

    def unsubscribe(self, inbox: Inbox) -> None:
        """Stop routing to `inbox` (the broker subscription stays: cheap, and topics recur)."""
        for topic in self._topics_of.pop(inbox, ()):
            with contextlib.suppress(ValueError, KeyError):
                self.routes[topic].remove(inbox)

    async def publish(self, topic: str, raw: bytes, *, retain: bool = False) -> None:
        """Publish at the mux's QoS; once more if the connection drops under it."""
        await self._publish(topic, raw, 1 if retain else self.qos, retain, None)

    async def presence(self, lab: str, eui: Eui64, status: bytes) -> None:
        """Retained online/offline of one address, QoS 1, as `MqttLink` publishes it."""
        where = status_topic(lab, bytes(eui))
        self._presence[where] = status
        await self.publish(where, status, retain=True)


async def register(key: str, broker: str, qos: int = 1, will: wire.Will | None = None) -> Mux:
    """Connect a mux for `broker` and make ``fleetmux://<key>/LAB`` URLs use it."""
    mux = Mux(broker, qos, will)
    await mux.open()
    _MUXES[key] = mux
    return mux


def find(key: str) -> Mux | None:
    """The mux registered under `key` in this process, if any."""
    return _MUXES.get(key)


async def unregister(key: str) -> None:
    mux = _MUXES.pop(key, None)
    if mux is not None:
        await mux.close()


class MuxLink(Link):
    """An `MqttLink` without its own connection: its topics go through a shared `Mux`."""

    def __init__(self, url: str, *, local: Iterable[EuiLike] = (), **options: Any) -> None:
        rest = url.partition("://")[2]
        key, _, lab = rest.partition("/")
        if not key or not lab or "/" in lab:
            raise LinkError(f"{url}: expected {SCHEME}://KEY/LAB")
        self.key = key
        self.lab = lab
        self._inbox = Inbox()
        self._mux: Mux | None = None
        super().__init__(url, local=local, **options)

    def _topics(self, eui: Eui64) -> list[str]:
        return [han_topic(self.lab, bytes(eui)), han_topic(self.lab, BROADCAST)]

    async def _open(self) -> None:
        mux = _MUXES.get(self.key)
        if mux is None:
            raise LinkError(f"{self.url}: no mux {self.key!r} registered in this process")
        self._mux = mux
        for eui in self.addresses:
            await mux.subscribe(self._topics(eui), self._inbox)
        for eui in self.addresses:
            await mux.presence(self.lab, eui, ONLINE)

    async def _bind(self, eui: Eui64) -> None:
        if self._mux is not None:
            await self._mux.subscribe(self._topics(eui), self._inbox)
            await self._mux.presence(self.lab, eui, ONLINE)

    async def _close(self) -> None:
        mux = self._mux
        if mux is not None:
            mux.unsubscribe(self._inbox)
            try:
                for eui in self.addresses:
                    await mux.presence(self.lab, eui, OFFLINE)
            except Exception as exc:  # the broker may be gone: still close
                log.debug("%s: offline status not published: %s", self.url, exc)
        self._inbox.close(LinkClosed(f"{self.url}: link is closed"))

    async def _send(self, raw: bytes) -> None:
        if self._mux is None:
            raise LinkClosed(f"{self.url}: not open")
        destination = peek_destination(raw)
        topic = han_topic(self.lab, BROADCAST if destination is None else destination)
        await self._mux.publish(topic, raw)

    async def _recv(self) -> bytes:
        return await self._inbox.get()
