"""A lean MQTT 3.1.1 client for a worker's shared broker connection (`hil.fleet.mux`).

Why not aiomqtt here: profiles of a worker put about half of its CPU in paho,
aiomqtt and the event loop's per-message work (a future and a timer per QoS 1
publish, a queue and an async iterator per received message). A mux needs
little of MQTT: CONNECT with a clean session, SUBSCRIBE, PUBLISH at QoS 0 or 1
both ways, PUBACK, PINGREQ and a last will. This client does only that, as an asyncio
`Protocol`: received messages go to a callback straight from `data_received`
(no queue, no task per message), and everything written in one turn of the
event loop leaves in one ``write`` (PUBACKs and publishes coalesce).

Keepalive is checked both ways: a PINGREQ goes out every half keepalive (so
the broker hears one within its keepalive even from a late event loop), and the
connection is declared lost when nothing at all (PINGRESP or anything else) has
come from the broker for 1.5 x keepalive, the limit MQTT gives the broker for
the client. Without that check a broker that stopped answering while its socket
stays open (a frozen process, a half-open TCP connection behind a NAT or a
cluster node partitioned away) would never be noticed, and a mux would wait
forever instead of connecting again.

The rest of the project keeps aiomqtt (`emulator.han.mqtt`); this client is
what the fleet measures its throughput with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from emulator.errors import LinkClosed, LinkError

log = logging.getLogger(__name__)

CONNECT: Final = 0x10
CONNACK: Final = 0x20
PUBLISH: Final = 0x30
PUBACK: Final = 0x40
SUBSCRIBE: Final = 0x82
SUBACK: Final = 0x90
PINGREQ: Final = b"\xc0\x00"
PINGRESP: Final = 0xD0
DISCONNECT: Final = b"\xe0\x00"

#: Called with (topic, payload, retain) for every PUBLISH the broker delivers.
OnMessage = Callable[[str, bytes, bool], None]
#: Called once when the connection ends: None after `close`, else the cause.
OnLost = Callable[[BaseException | None], None]


@dataclass(frozen=True, slots=True)
class Will:
    """What the broker publishes for us when our connection ends without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def _length(n: int) -> bytes:
    """MQTT's variable-length "remaining length" (1-4 bytes, 7 bits each)."""
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(
    client_id: str,
    keepalive: int,
    username: str | None = None,
    password: str | None = None,
    will: Will | None = None,
) -> bytes:
    flags = 0x02  # clean session
    payload = _string(client_id)
    if will is not None:
        if will.qos not in (0, 1, 2):
            raise LinkError(f"will QoS must be 0, 1 or 2, not {will.qos}")
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _string(will.topic) + _string(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
    body = _string("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + payload
    return bytes([CONNECT]) + _length(len(body)) + body


def publish_packet(topic: str, payload: bytes, qos: int, retain: bool, packet_id: int) -> bytes:
    head = _string(topic)
    if qos:
        head += packet_id.to_bytes(2, "big")
    first = PUBLISH | (qos << 1) | (1 if retain else 0)
    return bytes([first]) + _length(len(head) + len(payload)) + head + payload


def subscribe_packet(topics: Iterable[tuple[str, int]], packet_id: int) -> bytes:
    body = packet_id.to_bytes(2, "big") + b"".join(_string(t) + bytes([q]) for t, q in topics)
    return bytes([SUBSCRIBE]) + _length(len(body)) + body


class LeanClient(asyncio.Protocol):
    """One MQTT 3.1.1 connection; see the module docstring for what it does and skips."""

    def __init__(self, on_message: OnMessage, on_lost: OnLost) -> None:
        self.on_message = on_message
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.received = 0
        self.published = 0
        self._buffer = bytearray()
        self._out: list[bytes] = []
        self._flushing = False
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        self._next_id = 0
        self._connack: asyncio.Future[int] | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._closing = False
        self._ended = False
        self._loop = asyncio.get_running_loop()
        #: loop.time() of the last bytes from the broker (the keepalive check reads it).
        self.last_heard = self._loop.time()

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.last_heard = self._loop.time()
        buffer = self._buffer
        buffer += data
        pos = 0
        end = len(buffer)
        while end - pos >= 2:
            first = buffer[pos]
            # remaining length: up to 4 bytes of 7 bits
            length = 0
            shift = 0
            at = pos + 1
            while True:
                if at >= end:
                    del buffer[:pos]
                    return
                byte = buffer[at]
                length |= (byte & 0x7F) << shift
                at += 1
                if not byte & 0x80:
                    break
                shift += 7
                if shift > 21:
                    self._fail(LinkError("malformed MQTT remaining length from the broker"))
                    return
            if end - at < length:
                break
            body = bytes(buffer[at : at + length])
            pos = at + length
            self._packet(first, body)
        del buffer[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(None if self._closing else (exc or LinkClosed("the broker closed")))

    # -- packets ------------------------------------------------------------------------------
    def _packet(self, first: int, body: bytes) -> None:
        kind = first & 0xF0
        if kind == PUBLISH:
            qos = (first >> 1) & 0x03
            size = int.from_bytes(body[:2], "big")
            topic = body[2 : 2 + size].decode()
            at = 2 + size
            if qos:
                self._write(b"\x40\x02" + body[at : at + 2])  # PUBACK (QoS 1; 2 never asked)
                at += 2
            self.received += 1
            self.on_message(topic, body[at:], bool(first & 0x01))
        elif kind in (PUBACK, SUBACK):
            waiter = self._waiting.pop(int.from_bytes(body[:2], "big"), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(body[2:])
        elif kind == CONNACK:
            if self._connack is not None and not self._connack.done():
                self._connack.set_result(body[1] if len(body) > 1 else 0xFF)
        elif kind != PINGRESP:
            log.debug("ignored MQTT packet type 0x%02X", kind)

    def _write(self, data: bytes) -> None:
        """Queue `data`; what is queued in one event-loop turn goes out in one write."""
        self._out.append(data)
        if not self._flushing:
            self._flushing = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flushing = False
        out, self._out = self._out, []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def _packet_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._waiting:
                return self._next_id
        raise LinkError("no free MQTT packet identifier (65,535 outstanding)")

    def _check(self) -> None:
        if self._ended or self.transport is None or self.transport.is_closing():
            raise LinkClosed("MQTT connection is closed")

    # -- API ----------------------------------------------------------------------------------
    async def handshake(
        self,
        client_id: str,
        keepalive: float,
        timeout: float,
        username: str | None = None,
        password: str | None = None,
        will: Will | None = None,
    ) -> None:
        self._connack = self._loop.create_future()
        whole = max(1, math.ceil(keepalive))
        self._write(connect_packet(client_id, whole, username, password, will))
        try:
            code = await asyncio.wait_for(self._connack, timeout)
        except TimeoutError:
            raise LinkError(f"no CONNACK within {timeout:.0f} s") from None
        if code != 0:
            raise LinkError(f"broker refused the connection (CONNACK code {code})")
        self._pinger = asyncio.create_task(self._ping(keepalive), name=f"ping[{client_id}]")

    async def _ping(self, keepalive: float) -> None:
        """PINGREQ every half keepalive; lost when the broker is silent 1.5 x keepalive."""
        loop = self._loop
        every = keepalive / 2
        limit = 1.5 * keepalive
        next_ping = loop.time() + every
        while not self._ended:
            now = loop.time()
            silent = now - self.last_heard
            if silent >= limit:
                log.warning(
                    "MQTT broker silent for %.1f s (keepalive %s s): connection lost",
                    silent,
                    keepalive,
                )
                self._fail(
                    LinkClosed(
                        f"no packet from the broker for {silent:.1f} s "
                        f"(1.5 x keepalive {keepalive} s)"
                    )
                )
                return
            if now >= next_ping:
                self._write(PINGREQ)
                next_ping = now + every
            await asyncio.sleep(max(0.0, min(next_ping, self.last_heard + limit) - now))

    def publish_nowait(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """QoS 0: queued for this loop turn's write, nothing to wait for."""
        self._check()
        self.published += 1
        self._write(publish_packet(topic, payload, 0, retain, 0))

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish; at QoS 1 return when the broker's PUBACK arrives."""
        if qos == 0:
            self.publish_nowait(topic, payload, retain)
            return
        if qos != 1:
            raise LinkError(f"this client publishes at QoS 0 or 1, not {qos}")
        self._check()
        packet_id = self._packet_id()
        waiter: asyncio.Future[bytes] = self._loop.create_future()
        self._waiting[packet_id] = waiter
        self.published += 1
        self._write(publish_packet(topic, payload, 1, retain, packet_id))
        await waiter

    async def subscribe(self, topics: list[tuple[str, int]]) -> list[int]:
        """Subscribe in one SUBSCRIBE; the granted QoS per topic (0x80: refused)."""
        self._check()
        packet_id = self._packet_id()
        waiter: asyncio.Future[bytes] = self._loop.create_future()
        self._waiting[packet_id] = waiter
        self._write(subscribe_packet(topics, packet_id))
        return list(await waiter)

    async def close(self) -> None:
        """DISCONNECT and close (no will is sent); `on_lost` gets None."""
        if self._ended:
            return
        self._closing = True
        if self.transport is not None and not self.transport.is_closing():
            self._out.append(DISCONNECT)
            self._flush()
            self.transport.close()
        self._end(None)

    def _fail(self, exc: BaseException) -> None:
        if self.transport is not None:
            self.transport.abort()
        self._end(exc)

    def _end(self, exc: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        if self._pinger is not None:
            self._pinger.cancel()
        error = LinkClosed(f"MQTT connection closed: {exc}" if exc else "MQTT connection closed")
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._waiting.clear()
        if self._connack is not None and not self._connack.done():
            self._connack.set_exception(error)
        with contextlib.suppress(Exception):
            self.on_lost(exc)


async def connect(
    host: str,
    port: int,
    client_id: str,
    on_message: OnMessage,
    on_lost: OnLost,
    *,
    keepalive: float = 30,
    timeout: float = 30.0,
    username: str | None = None,
    password: str | None = None,
    will: Will | None = None,
) -> LeanClient:
    """An open, acknowledged connection (TCP_NODELAY is asyncio's default for TCP).

    `keepalive` is in seconds (a float is allowed for tests; the CONNECT carries
    it rounded up to whole seconds).
    """
    loop = asyncio.get_running_loop()
    try:
        _, protocol = await asyncio.wait_for(
            loop.create_connection(lambda: LeanClient(on_message, on_lost), host, port), timeout
        )
    except (OSError, TimeoutError) as exc:
        raise LinkError(f"cannot connect to {host}:{port}: {exc or 'timed out'}") from None
    try:
        await protocol.handshake(client_id, keepalive, timeout, username, password, will)
    except BaseException:
        await protocol.close()
        raise
    return protocol
