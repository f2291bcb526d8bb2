"""HAN envelopes over MQTT: many premises, many processes, one broker (or a cluster).

Topic tree (documented for device makers in docs/wire-protocol.md)::

    smets/{lab}/han/{dst}      encoded envelopes for EUI {dst}   QoS 1, not retained
    smets/{lab}/han/ffffffffffffffff   broadcast envelopes       QoS 1, not retained
    smets/{lab}/status/{eui}   "online" / "offline"              QoS 1, retained, will
    smets/{lab}/state/{eui}    device state JSON                 QoS 1, retained

EUIs are 16 lower-case hex digits (`Eui64.compact`). Each endpoint subscribes to
the han topics of its ``local`` EUIs and to the broadcast topic; an endpoint
with no local EUI subscribes to ``smets/{lab}/han/+`` and hears everything
(a recorder). The endpoint's first local EUI gets an MQTT last will, so the
broker itself announces ``offline`` when a device dies without saying goodbye.

Only MQTT 3.1.1 features are used (no MQTT 5 "no local" option: the base class
drops our own broadcasts), so any 3.1.1 or 5 broker works: amqtt embedded for
tests, mosquitto or a cluster for scale. ``protocol=5`` makes the client speak
MQTT 5 to brokers that prefer it.

A link whose broker connection drops (a broker restart, a cluster node that
goes away) connects again with backoff (`RECONNECT_DELAYS`), subscribes its
topics again and publishes its addresses' ``online`` again, without closing its
inbox: the device or hub on it carries on. Sessions are clean, so envelopes
the broker held for it meanwhile are lost; the link counts the outage
(`MqttLink.reconnects`, `MqttLink.retried`) and logs it. Only when every
attempt fails is the link lost (`Link.lost`) and its inbox closed.

Wraps aiomqtt 2.x (``>=2.5,<3``); aiomqtt is imported on `open`, not on import.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from emulator.errors import LinkClosed, LinkError
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import BROADCAST
from emulator.han.link import EuiLike, Inbox, Link, peek_destination
from emulator.tasks import cancel_and_wait

if TYPE_CHECKING:
    import aiomqtt

log = logging.getLogger(__name__)

ROOT: Final = "smets"
DEFAULT_PORT: Final = 1883
DEFAULT_LAB: Final = "lab"
DEFAULT_KEEPALIVE: Final = 60
ONLINE: Final = b"online"
OFFLINE: Final = b"offline"

#: Seconds before each attempt to connect again after the broker connection drops.
RECONNECT_DELAYS: Final = (0.1, 0.5, 1.0, 2.0, 4.0)

_PROTOCOLS: Final = {"3": 3, "3.1": 3, "4": 4, "3.1.1": 4, "311": 4, "5": 5, "5.0": 5}


def _check_lab(lab: str) -> str:
    if not lab or any(c in lab for c in "/+#\0"):
        raise LinkError(f"lab name must be one MQTT topic level without wildcards: {lab!r}")
    return lab


def han_topic(lab: str, eui: bytes) -> str:
    """Where envelopes for ``eui`` are published (`BROADCAST` gives the broadcast topic)."""
    return f"{ROOT}/{lab}/han/{eui.hex()}"


def status_topic(lab: str, eui: bytes) -> str:
    """Retained ``online``/``offline`` of one endpoint address."""
    return f"{ROOT}/{lab}/status/{eui.hex()}"


def state_topic(lab: str, eui: bytes) -> str:
    """Retained device state JSON of one device."""
    return f"{ROOT}/{lab}/state/{eui.hex()}"


@dataclass(frozen=True, slots=True)
class MqttTarget:
    """What an ``mqtt://[user[:password]@]host[:port][/LAB][?protocol=5&keepalive=S]`` says."""

    host: str
    port: int = DEFAULT_PORT
    lab: str = DEFAULT_LAB
    username: str | None = None
    password: str | None = None
    protocol: int | None = None
    client_id: str | None = None
    #: Seconds; the broker declares a silent client dead (and sends its will) after 1.5x.
    keepalive: int | None = None


def redact(url: str) -> str:
    """The URL as errors and logs show it: a password in it becomes ``***``."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    user, at, host = authority.rpartition("@")
    if not (sep and at and ":" in user):
        return url
    return f"{scheme}{sep}{user.split(':', 1)[0]}:***@{host}{slash}{tail}"


def parse_mqtt_url(url: str) -> MqttTarget:
    given, url = url, redact(url)  # `url` is only for messages from here on
    try:
        parts = urlsplit(given)
    except ValueError as exc:  # "Invalid IPv6 URL"
        raise LinkError(f"{url}: {exc}") from None
    if parts.scheme.lower() != "mqtt":
        raise LinkError(f"not an mqtt:// URL: {url!r}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise LinkError(f"{url}: bad port") from None
    if not parts.hostname:
        raise LinkError(f"{url}: no broker host")
    lab = _check_lab(unquote(parts.path.strip("/")) or DEFAULT_LAB)
    query = dict(parse_qsl(parts.query))
    unknown = set(query) - {"protocol", "client_id", "keepalive"}
    if unknown:
        raise LinkError(f"{url}: unknown parameter(s) {', '.join(sorted(unknown))}")
    protocol = _protocol(query["protocol"]) if "protocol" in query else None
    keepalive = _keepalive(url, query["keepalive"]) if "keepalive" in query else None
    return MqttTarget(
        host=parts.hostname,
        port=port,
        lab=lab,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        protocol=protocol,
        client_id=query.get("client_id"),
        keepalive=keepalive,
    )


def _keepalive(url: str, value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if not 1 <= seconds <= 65535:
        raise LinkError(f"{url}: keepalive must be 1 to 65535 seconds, not {value!r}")
    return seconds


def _protocol(value: str | int) -> int:
    number = _PROTOCOLS.get(str(value))
    if number is None:
        raise LinkError(f"MQTT protocol must be 3.1, 3.1.1 or 5, not {value!r}")
    return number


class MqttLink(Link):
    """An endpoint on a broker, from ``mqtt://host:port/LAB``.

    Options: ``client_id`` (default ``smets-{lab}-{first EUI}-{random}``, unique
    so two processes emulating one EUI do not kick each other off),
    ``protocol`` (4 = MQTT 3.1.1, the default, or 5), ``keepalive`` seconds
    (how soon a broker notices a silent death; default the URL's
    ``?keepalive=``, else 60), ``connect_timeout``,
    ``qos`` for envelopes (default 1), ``max_queue`` for the inbox,
    ``reconnect_delays`` (seconds before each attempt to connect again after a
    drop; default `RECONNECT_DELAYS`, ``()`` never reconnects).
    """

    def __init__(
        self,
        url: str,
        *,
        local: Iterable[EuiLike] = (),
        client_id: str | None = None,
        protocol: int | str | None = None,
        keepalive: int | None = None,
        connect_timeout: float = 10.0,
        qos: int = 1,
        max_queue: int = 0,
        reconnect_delays: Iterable[float] = RECONNECT_DELAYS,
        **options: Any,
    ) -> None:
        self.target = parse_mqtt_url(url)
        self.lab = self.target.lab
        if protocol is not None:
            self.protocol = _protocol(protocol)
        else:
            self.protocol = self.target.protocol or 4
        if qos not in (0, 1, 2):
            raise LinkError(f"qos must be 0, 1 or 2, not {qos!r}")
        self.qos = qos
        self.keepalive = keepalive or self.target.keepalive or DEFAULT_KEEPALIVE
        self.connect_timeout = connect_timeout
        self._client_id = client_id or self.target.client_id
        self._inbox = Inbox(max_queue)
        self._client: aiomqtt.Client | None = None
        self._stack = contextlib.AsyncExitStack()
        self._pump: asyncio.Task[None] | None = None
        self._lost: BaseException | None = None
        self._aborted = False
        self._topics: dict[bytes, str] = {}
        self._broadcast_topic = han_topic(self.lab, BROADCAST)
        self._han_prefix = f"{ROOT}/{self.lab}/han/"
        self._promiscuous = False
        self._status_prefix = f"{ROOT}/{self.lab}/status/"
        #: The last ``online``/``offline`` heard for each watched peer (`watch_peer`).
        self.peer_status: dict[bytes, str] = {}
        self.reconnect_delays = tuple(float(d) for d in reconnect_delays)
        #: Every topic subscribed, in order: subscribed again after a reconnect.
        self._subscribed: dict[str, None] = {}
        self._reconnecting: asyncio.Task[None] | None = None
        self._later: asyncio.Task[None] | None = None
        self._up = asyncio.Event()
        #: Times the broker connection dropped and came back.
        self.reconnects = 0
        #: Envelopes whose publish the drop caught, sent again after the reconnect.
        self.retried = 0
        #: Seconds the connection was down in total (outages that ended).
        self.down_s = 0.0
        super().__init__(redact(url), local=local, **options)

    @property
    def client_id(self) -> str | None:
        """The MQTT client identifier (chosen on `open` unless given)."""
        return self._client_id

    # -- lifecycle ---------------------------------------------------------------

    async def _open(self) -> None:
        local = self.addresses
        if self._client_id is None:
            who = local[0].compact if local else "all"
            self._client_id = f"smets-{self.lab}-{who}-{secrets.token_hex(4)}"
        client = await self._dial()
        self._client = client
        if local:
            topics = [han_topic(self.lab, eui) for eui in local] + [self._broadcast_topic]
        else:
            topics = [self._han_prefix + "+"]
            self._promiscuous = True
        await self._subscribe(client, topics)
        self._pump = asyncio.create_task(self._read(client), name=f"MqttLink[{self._client_id}]")
        for eui in local:
            await client.publish(status_topic(self.lab, eui), ONLINE, qos=1, retain=True)
        self._up.set()
        log.debug("%s connected as %s", self.url, self._client_id)

    async def _dial(self) -> aiomqtt.Client:
        """A connected client with the will of the first local EUI, entered in `_stack`."""
        import aiomqtt

        local = self.addresses
        will = None
        if local:
            will = aiomqtt.Will(status_topic(self.lab, local[0]), OFFLINE, qos=1, retain=True)
        versions = {
            3: aiomqtt.ProtocolVersion.V31,
            4: aiomqtt.ProtocolVersion.V311,
            5: aiomqtt.ProtocolVersion.V5,
        }
        client = aiomqtt.Client(
            self.target.host,
            self.target.port,
            username=self.target.username,
            password=self.target.password,
            identifier=self._client_id,
            protocol=versions[self.protocol],
            will=will,
            keepalive=self.keepalive,
            timeout=self.connect_timeout,
            # Without it, Nagle and delayed ACKs hold every small envelope ~40 ms.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        stack = contextlib.AsyncExitStack()
        try:
            await stack.enter_async_context(client)
        except aiomqtt.MqttError as exc:
            raise LinkError(
                f"{self.url}: cannot connect to {self.target.host}:{self.target.port}: {exc}"
            ) from exc
        self._stack = stack
        return client

    async def _subscribe(self, client: aiomqtt.Client, topics: list[str]) -> None:
        self._subscribed.update(dict.fromkeys(topics))
        granted = await client.subscribe([(topic, self.qos) for topic in topics])
        # MQTT 3.1.1 grants QoS numbers (0x80 = failure), MQTT 5 reason codes.
        refused = [
            topic
            for topic, code in zip(topics, granted, strict=False)
            if (code >= 0x80 if isinstance(code, int) else bool(getattr(code, "is_failure", False)))
        ]
        if refused:
            raise LinkError(f"{self.url}: broker refused subscription to {', '.join(refused)}")

    async def _bind(self, eui: Eui64) -> None:
        client = self._client
        if client is None or self._lost is not None or self._closed:
            return  # `_open` subscribes to everything in `local`
        try:
            topics = [han_topic(self.lab, eui)]
            if self._promiscuous:
                topics.append(self._broadcast_topic)
            await self._subscribe(client, topics)
            if self._promiscuous:
                await client.unsubscribe(self._han_prefix + "+")
                self._subscribed.pop(self._han_prefix + "+", None)
                self._promiscuous = False
            await client.publish(status_topic(self.lab, eui), ONLINE, qos=1, retain=True)
        except LinkError:
            raise
        except Exception as exc:
            raise LinkError(f"{self.url}: cannot bind {eui}: {exc}") from exc

    async def watch_peer(self, eui: EuiLike) -> None:
        """Follow another endpoint's status (retained, and its last will) in `peer_status`.

        How the hub's side learns that a device under test on MQTT died: its
        broker publishes the device's will, ``offline``, and nothing else would say so.
        """
        client = self._connected()
        try:
            await self._subscribe(client, [status_topic(self.lab, Eui64(eui))])
        except LinkError:
            raise
        except Exception as exc:
            raise LinkError(f"{self.url}: cannot watch {Eui64(eui)}: {exc}") from exc

    async def _close(self) -> None:
        # Cancelled again until they end, within a bound: aiomqtt awaits `wait_for`,
        # which on Python 3.11 can swallow a cancellation (emulator/tasks.py).
        await cancel_and_wait(t for t in (self._reconnecting, self._later) if t is not None)
        self._reconnecting = self._later = None
        self._up.set()  # senders waiting for a reconnect find the link closed
        pump, self._pump = self._pump, None
        if pump is not None:
            await cancel_and_wait([pump])
        client, self._client = self._client, None
        if client is not None and not self._aborted and self._lost is None:
            try:
                for eui in self._local:
                    await client.publish(status_topic(self.lab, eui), OFFLINE, qos=1, retain=True)
            except Exception as exc:  # the broker may be gone: still disconnect
                log.debug("%s: offline status not published: %s", self.url, exc)
        try:
            await self._stack.aclose()
        except Exception as exc:
            log.debug("%s: disconnect: %s", self.url, exc)
        self._inbox.close(LinkClosed(f"{self.url}: link is closed"))

    async def abort(self) -> None:
        """Die without DISCONNECT, as a device losing power does; the broker sends the will.

        For fault injection and tests of status handling: the socket is shut
        down under the client, the broker sees the connection drop and publishes
        ``offline`` on the first local EUI's status topic. The link is closed
        afterwards.
        """
        client = self._client
        if client is not None and not self._closed and self._lost is None:
            self._aborted = True
            # aiomqtt 2 has no public "drop the connection": reach paho's socket.
            sock = client._client.socket()
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            if self._pump is not None:
                await asyncio.wait({self._pump}, timeout=self.connect_timeout)
        await self.close()

    # -- traffic -----------------------------------------------------------------

    async def _read(self, client: aiomqtt.Client) -> None:
        import aiomqtt

        prefix = self._han_prefix
        inbox = self._inbox
        try:
            async for message in client.messages:
                payload = message.payload
                topic = message.topic.value
                if topic.startswith(self._status_prefix) and isinstance(payload, bytes):
                    try:
                        peer = bytes.fromhex(topic[len(self._status_prefix) :])
                    except ValueError:
                        self.counters.dropped += 1
                        continue
                    self.peer_status[peer] = payload.decode("ascii", "replace")
                    continue
                # Retained han messages are stale, not live traffic; payloads are bytes.
                if (
                    message.retain
                    or not message.topic.value.startswith(prefix)
                    or not isinstance(payload, bytes | bytearray)
                    or not inbox.put(bytes(payload))
                ):
                    self.counters.dropped += 1
        except aiomqtt.MqttError as exc:
            if self._closed or self._aborted or not self.reconnect_delays:
                self._on_lost(exc)
            elif self._reconnecting is None:
                self._up.clear()
                self._client = None
                # INFO: if it never comes back the loss surfaces as the link's error (one
                # line at a command's exit); a reconnect is logged as a warning.
                log.info("%s: broker connection lost (%s); connecting again", self.url, exc)
                self._reconnecting = asyncio.create_task(
                    self._reconnect(exc), name=f"reconnect[{self._client_id}]"
                )
        except Exception as exc:  # a pump that died silently would leave receivers waiting
            log.warning("%s: receiving failed: %r", self.url, exc)
            self._on_lost(exc)

    async def _reconnect(self, cause: BaseException) -> None:
        """Connect again with backoff; the link is lost only when every attempt fails.

        However it ends (connected, given up, cancelled by `close`, or an error no
        attempt expected), senders waiting on `_up` are woken: they would otherwise
        wait for a reconnect that never comes.
        """
        try:
            await self._reconnect_attempts(cause)
        except BaseException as exc:
            if self._reconnecting is asyncio.current_task():
                self._reconnecting = None
                if not isinstance(exc, asyncio.CancelledError):
                    log.warning("%s: reconnecting failed: %r", self.url, exc)
                    self._on_lost(exc)
            raise
        finally:
            self._up.set()

    async def _reconnect_attempts(self, cause: BaseException) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        with contextlib.suppress(Exception):
            await self._stack.aclose()  # the dead client's context
        for attempt, delay in enumerate(self.reconnect_delays, start=1):
            await asyncio.sleep(delay)
            try:
                client = await self._dial()
            except LinkError as exc:
                log.info("%s: reconnect %d failed: %s", self.url, attempt, exc)
                continue
            if self._closed:  # closed meanwhile (a cancellation lost in aiomqtt's wait_for)
                await self._stack.aclose()
                return
            # Addresses bound while the connection was down are subscribed here too.
            topics = dict.fromkeys(self._subscribed)
            if self._local:
                topics.update(dict.fromkeys(han_topic(self.lab, eui) for eui in self._local))
                topics[self._broadcast_topic] = None
            try:
                await self._subscribe(client, list(topics))
                for eui in self._local:
                    await client.publish(status_topic(self.lab, eui), ONLINE, qos=1, retain=True)
            except Exception as exc:  # dropped again at once: next attempt
                log.info("%s: reconnect %d failed after connecting: %s", self.url, attempt, exc)
                with contextlib.suppress(Exception):
                    await self._stack.aclose()
                continue
            self._client = client
            self._pump = asyncio.create_task(
                self._read(client), name=f"MqttLink[{self._client_id}]"
            )
            self.reconnects += 1
            self.down_s += loop.time() - began
            self._reconnecting = None
            self._up.set()
            if self._local:
                self._later = asyncio.create_task(self._announce_later(client))
            log.warning(
                "%s: connected again after %.1f s (attempt %d), %d topics subscribed again; "
                "envelopes sent to it meanwhile are lost",
                self.url,
                loop.time() - began,
                attempt,
                len(self._subscribed),
            )
            return
        log.info("%s: gave up reconnecting after %d attempts", self.url, len(self.reconnect_delays))
        self._reconnecting = None
        self._on_lost(cause)
        self._up.set()  # wake waiting senders: they find the link lost

    async def _announce_later(self, client: aiomqtt.Client) -> None:
        """Say ``online`` again once the broker has surely dropped the connection we left.

        A connection lost to silence (half-open) may still be open at the broker,
        which sends its will (``offline``) only when its own keepalive check drops it,
        possibly after the new connection said ``online``.
        """
        await asyncio.sleep(1.5 * self.keepalive + 1.0)
        if self._client is client and not self._closed:
            try:
                for eui in self._local:
                    await client.publish(status_topic(self.lab, eui), ONLINE, qos=1, retain=True)
            except Exception as exc:  # lost again: the next reconnect says online itself
                log.debug("%s: online not said again: %s", self.url, exc)

    def _on_lost(self, exc: BaseException) -> None:
        if self._lost is not None:
            return
        self._lost = exc
        if not self._closed:
            log.debug("%s: broker connection lost: %s", self.url, exc)
        error = LinkClosed(f"{self.url}: broker connection lost: {exc}")
        error.__cause__ = exc
        self._inbox.close(error)

    def _connected(self) -> aiomqtt.Client:
        if self._lost is not None:
            raise LinkClosed(f"{self.url}: broker connection lost: {self._lost}") from self._lost
        if self._client is None:
            raise LinkClosed(f"{self.url}: not connected")
        return self._client

    async def _send(self, raw: bytes) -> None:
        import aiomqtt

        if self._reconnecting is not None:
            await self._up.wait()  # set when the reconnect ends, however, and on close
        client = self._connected()
        destination = peek_destination(raw)
        if destination is None:
            topic = self._broadcast_topic  # unroutable bytes: noise everyone hears
        else:
            topic = self._topics.get(destination) or self._topics.setdefault(
                destination, han_topic(self.lab, destination)
            )
        try:
            await self._publish(client, topic, raw)
        except aiomqtt.MqttError as exc:
            if self._closed or not self.reconnect_delays:
                raise LinkClosed(f"{self.url}: broker connection lost: {exc}") from exc
            # The drop caught it: once the pump has noticed and reconnected, send it again.
            for _ in range(100):
                if self._reconnecting is not None or self._client is not client:
                    break
                await asyncio.sleep(0.01)
            await self._up.wait()
            self.retried += 1
            log.info("%s: envelope caught by a reconnect, sent again", self.url)
            await self._publish(self._connected(), topic, raw)

    async def _publish(self, client: aiomqtt.Client, topic: str, raw: bytes) -> None:
        """`client.publish`, without losing a cancellation.

        aiomqtt waits for the PUBACK with `asyncio.wait_for`, which on Python 3.11
        returns normally when the cancellation lands as the PUBACK arrives. The
        cancelled task (a send timeout, a device's serve task being stopped) would
        then carry on as if nothing had happened, maybe into a wait nobody ends.
        The request is still counted by the task (`Task.cancelling`): raise it again.
        """
        task = asyncio.current_task()
        pending = 0 if task is None else task.cancelling()
        await client.publish(topic, raw, qos=self.qos, retain=False)
        if task is not None and task.cancelling() > pending:
            raise asyncio.CancelledError

    async def _recv(self) -> bytes:
        return await self._inbox.get()

    async def publish_state(self, eui: EuiLike, state: Mapping[str, Any]) -> None:
        """Publish a device's state as retained JSON (keys sorted, compact).

        Raises `TypeError` for values JSON cannot hold, so a model bug is not
        published as a half-written document.
        """
        payload = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
        if not self._opened:
            await self.open()
        client = self._connected()
        try:
            await client.publish(state_topic(self.lab, Eui64(eui)), payload, qos=1, retain=True)
        except Exception as exc:
            raise LinkError(f"{self.url}: state not published: {exc}") from exc
