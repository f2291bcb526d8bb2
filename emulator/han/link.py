"""The HAN link: one interface that moves envelopes, transports chosen by URL.

Built like python-can's ``BusABC``: the base class owns everything a transport
should not have to get right again (timeouts, close-once, filtering by
destination, counters, the trace hook and fault injection) and a backend only
moves raw encoded envelopes with ``_send``/``_recv``. Backends are named in
`BACKENDS` as ``"module:Class"`` strings and imported only when a URL asks for
them, so ``import emulator.han`` never pulls in aiomqtt or pyserial::

    url                          backend
    memory://NAME                emulator.han.memory:MemoryLink   (in-process)
    /dev/ttyUSB0, COM3           emulator.han.serial:SerialLink   (plain device path)
    serial:///dev/ttyUSB0        emulator.han.serial:SerialLink
    socket://host:port           emulator.han.serial:SerialLink   (raw TCP, ser2net)
    rfc2217://host:port          emulator.han.serial:SerialLink   (telnet COM port)
    loop://                      emulator.han.serial:SerialLink   (pyserial loopback)
    fd://N                       emulator.han.serial:SerialLink   (an open fd: pty master)
    mqtt://host:port/LAB         emulator.han.mqtt:MqttLink
    gfi+serial:///dev/ttyUSB0    emulator.han.gfi:GfiLink        (GFI text lines; also
                                 gfi+socket://, gfi+rfc2217://, gfi+fd://)
    ble://AA:BB:CC:DD:EE:FF      emulator.han.ble:BleLink        (extra smets-hil[ble])

Third-party backends register an entry point in the ``smets_hil.links`` group
(name = URL scheme, value = ``module:Class``).

Malformed input never escapes `Link.recv`: a link is the boundary where noise
on a wire becomes a counter, an ``on_error`` call and a skipped frame, so one bad
frame cannot take a device off the HAN.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import warnings
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import TracebackType
from typing import Any, Final, Self

from emulator.errors import EmulatorError, GbcsDecodeError, LinkClosed, LinkError, LinkTimeout
from emulator.gbcs.eui import Eui64
from emulator.han.envelope import BROADCAST, Envelope

#: A fault injector in pymodbus NullModem style: takes the raw encoded envelope a
#: link is about to send and returns what really goes out (``[]`` drops it, two
#: items duplicate or split it, altered bytes corrupt it).
LinkFault = Callable[[bytes], list[bytes]]

#: Observes every raw envelope: ``trace("send", raw)`` before fault injection,
#: ``trace("recv", raw)`` for everything a transport delivers, malformed or not.
TraceHook = Callable[[str, bytes], None]

#: Told about input the link skipped: the error and the raw bytes it came from.
ErrorHandler = Callable[[Exception, bytes], None]

#: Anything `Eui64` accepts.
EuiLike = Eui64 | bytes | str

SEND: Final = "send"
RECV: Final = "recv"

#: Where the destination EUI sits in an encoded envelope (see envelope.py).
DESTINATION: Final = slice(14, 22)

BACKENDS: dict[str, str] = {
    "memory": "emulator.han.memory:MemoryLink",
    "serial": "emulator.han.serial:SerialLink",
    "socket": "emulator.han.serial:SerialLink",
    "rfc2217": "emulator.han.serial:SerialLink",
    "loop": "emulator.han.serial:SerialLink",
    "fd": "emulator.han.serial:SerialLink",
    "mqtt": "emulator.han.mqtt:MqttLink",
    "gfi+serial": "emulator.han.gfi:GfiLink",
    "gfi+socket": "emulator.han.gfi:GfiLink",
    "gfi+rfc2217": "emulator.han.gfi:GfiLink",
    "gfi+fd": "emulator.han.gfi:GfiLink",
    "ble": "emulator.han.ble:BleLink",
}

ENTRY_POINT_GROUP: Final = "smets_hil.links"


def peek_destination(raw: bytes) -> bytes | None:
    """The destination EUI bytes of an encoded envelope, without decoding it.

    Transports route before anyone decodes (a radio hears the address first);
    None means the bytes are too short to carry one, which transports treat as
    noise that every endpoint hears.
    """
    if len(raw) < DESTINATION.stop:
        return None
    return raw[DESTINATION]


@dataclass(slots=True)
class LinkCounters:
    """What happened on one endpoint; benchmarks and fault tests read these.

    ``dropped`` counts well-formed envelopes this endpoint did not deliver (not
    addressed to it, its own broadcast echoed back, or a full inbox);
    ``corrupted`` counts input that never became an envelope (bad CRC, bad
    header, truncated).
    """

    sent: int = 0
    received: int = 0
    dropped: int = 0
    corrupted: int = 0


class Inbox:
    """FIFO of raw envelopes between a transport's receiving side and `Link.recv`.

    Not an ``asyncio.Queue`` because a receiver blocked on a link that closes or
    loses its transport must be woken with `LinkClosed` at once, not at its
    timeout. Items that arrived before the loss are still handed out first.
    Cancel-safe: an item stays queued until a getter returns it.
    """

    __slots__ = ("_error", "_items", "_waiters", "maxsize")

    def __init__(self, maxsize: int = 0) -> None:
        self.maxsize = maxsize
        self._items: deque[bytes] = deque()
        self._waiters: list[asyncio.Future[None]] = []
        self._error: LinkClosed | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._error is not None

    def put(self, raw: bytes) -> bool:
        """Queue one raw envelope; False when closed or full (the caller counts a drop)."""
        if self._error is not None or (self.maxsize and len(self._items) >= self.maxsize):
            return False
        self._items.append(raw)
        if self._waiters:
            self._wake()
        return True

    def close(self, error: LinkClosed) -> None:
        """Refuse new items and wake every getter; they raise once the queue is empty."""
        if self._error is None:
            self._error = error
        self._wake()

    async def get(self) -> bytes:
        while not self._items:
            if self._error is not None:
                raise LinkClosed(str(self._error)) from self._error.__cause__
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):  # already taken by _wake
                    self._waiters.remove(waiter)
        return self._items.popleft()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class Link(ABC):
    """One endpoint on the HAN: sends and receives `Envelope` objects.

    ``local`` holds the EUI-64s this endpoint answers for (a hub: its CHF and
    GPF; a meter: its own). `recv` returns envelopes addressed to one of them or
    to `BROADCAST`; an endpoint with an empty ``local`` is promiscuous and sees
    everything the transport brings (a sniffer or recorder). Broadcasts it sent
    itself are never returned.

    Lifecycle: construct (no I/O), `open` (connect; idempotent, also done by the
    first `send`/`recv` and by ``async with``), `close` (idempotent). A failed
    `open` closes the link, so nothing is left half-connected.

    Subclasses set up their own state and call ``super().__init__`` *last*: the
    class default ``_closed = True`` is flipped only at the end of this
    ``__init__``, so `close` and ``__del__`` are harmless on a link whose
    constructor failed. They implement `_send`, `_recv` and usually `_open`,
    `_close` and `_bind`.
    """

    _closed: bool = True
    _opened: bool = False
    #: Set by a transport whose connection went away under the open link.
    _lost: BaseException | None = None

    def __init__(
        self,
        url: str,
        *,
        local: Iterable[EuiLike] = (),
        timeout: float | None = None,
        send_timeout: float | None = 10.0,
        on_error: ErrorHandler | None = None,
        trace: TraceHook | None = None,
        manipulator: LinkFault | None = None,
    ) -> None:
        self.url = url
        # A dict as an ordered set: "first local EUI" (MQTT's last will) is the first given.
        self._local: dict[Eui64, None] = dict.fromkeys(Eui64(eui) for eui in local)
        #: Default for `recv` when it is given no timeout; None waits forever.
        self.timeout = timeout
        #: Bound on one `send` (MQTT waits for PUBACK, serial for the UART).
        self.send_timeout = send_timeout
        self.on_error = on_error
        self.trace = trace
        self.manipulator = manipulator
        self.counters = LinkCounters()
        self._open_lock = asyncio.Lock()
        self._closed = False

    # -- addresses -------------------------------------------------------------

    @property
    def local(self) -> frozenset[Eui64]:
        """Addresses this endpoint answers for; change it with `bind`."""
        return frozenset(self._local)

    @property
    def addresses(self) -> tuple[Eui64, ...]:
        """The same addresses in the order given, the first one being the primary."""
        return tuple(self._local)

    async def bind(self, eui: EuiLike) -> None:
        """Answer for one more EUI-64 (MQTT subscribes to its topic before returning)."""
        address = Eui64(eui)
        if address in self._local:
            return
        self._local[address] = None
        await self._bind(address)

    # -- lifecycle -------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def lost(self) -> BaseException | None:
        """Why the transport went away while the link was open (None while it is up)."""
        return self._lost

    async def open(self) -> Self:
        """Connect the transport; safe to call again and from concurrent tasks."""
        if self._closed:
            raise LinkClosed(f"{self.url}: link is closed")
        if not self._opened:
            async with self._open_lock:
                await self._open_once()
        return self

    async def _open_once(self) -> None:
        # Re-checked under the lock: another task may have opened or closed meanwhile.
        if self._opened:
            return
        if self._closed:
            raise LinkClosed(f"{self.url}: link is closed")
        try:
            await self._open()
        except BaseException as exc:
            # We hold the lock that close() waits for: release the transport here.
            self._closed = True
            await self._close()
            if isinstance(exc, EmulatorError) or not isinstance(exc, Exception):
                raise
            raise LinkError(f"{self.url}: cannot open: {exc}") from exc
        self._opened = True

    async def close(self) -> None:
        """Release the transport once; later calls and calls on half-built links do nothing.

        Waits for an `open` in progress, so the transport is never released while
        it is still being connected.
        """
        if self._closed:
            return
        self._closed = True
        async with self._open_lock:
            await self._close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __del__(self) -> None:
        if not self._closed:
            warnings.warn(f"{self!r} was not closed", ResourceWarning, stacklevel=1, source=self)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._opened else "new"
        local = ",".join(eui.compact for eui in self._local) or "*"
        return f"<{type(self).__name__} {self.url} local={local} {state}>"

    # -- traffic ---------------------------------------------------------------

    async def send(self, env: Envelope) -> None:
        """Encode and transmit one envelope (through the manipulator, if any)."""
        await self._usable()
        raw = env.encode()
        if self.trace is not None:
            self.trace(SEND, raw)
        await self._transmit([raw] if self.manipulator is None else self.manipulator(raw))
        self.counters.sent += 1

    async def send_raw(self, raw: bytes) -> None:
        """Put bytes on the transport as they are: no trace, no manipulator, not counted.

        A fault injector releases through it what its manipulator held back
        (a delayed or reordered envelope was traced and counted when first sent).
        """
        await self._usable()
        await self._transmit([raw])

    async def _usable(self) -> None:
        """Open on first use; a closed link refuses."""
        if not self._opened:
            await self.open()
        if self._closed:
            raise LinkClosed(f"{self.url}: link is closed")

    async def _transmit(self, chunks: list[bytes]) -> None:
        """Hand `chunks` to the transport within `send_timeout`; whatever the transport
        raises becomes a link error, so callers handle one family."""
        try:
            if self.send_timeout is None:
                for chunk in chunks:
                    await self._send(chunk)
            else:
                async with asyncio.timeout(self.send_timeout):
                    for chunk in chunks:
                        await self._send(chunk)
        except EmulatorError:
            raise
        except TimeoutError:
            raise LinkTimeout(f"{self.url}: send took over {self.send_timeout} s") from None
        except Exception as exc:
            raise LinkError(f"{self.url}: send failed: {exc}") from exc

    async def recv(self, timeout: float | None = None) -> Envelope:
        """The next envelope for this endpoint; malformed input is counted and skipped.

        ``timeout`` None means the link's default (`timeout`, itself None for
        "wait forever"). Raises `LinkTimeout` when the time runs out and
        `LinkClosed` when the link is, or becomes, closed.
        """
        if timeout is None:
            timeout = self.timeout
        await self._usable()
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        while True:
            try:
                if deadline is None:
                    raw = await self._recv()
                else:
                    async with asyncio.timeout_at(deadline):
                        raw = await self._recv()
            except TimeoutError:
                raise LinkTimeout(f"{self.url}: nothing received in {timeout} s") from None
            env = self._accept(raw)
            if env is not None:
                return env

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Envelope:
        """Iterate received envelopes until the link closes."""
        try:
            return await self.recv()
        except LinkClosed:
            raise StopAsyncIteration from None

    def _accept(self, raw: bytes) -> Envelope | None:
        """Decode and filter one raw envelope; None means counted and skipped."""
        if self.trace is not None:
            self.trace(RECV, raw)
        try:
            env = Envelope.decode(raw)
        except GbcsDecodeError as exc:
            self._report_corrupt(exc, raw)
            return None
        local = self._local
        if env.destination == BROADCAST:
            wanted = env.source not in local
        else:
            wanted = not local or env.destination in local
        if not wanted:
            self.counters.dropped += 1
            return None
        self.counters.received += 1
        return env

    def _report_corrupt(self, exc: Exception, raw: bytes) -> None:
        """Count input that never became an envelope; transports call it for CRC errors too."""
        self.counters.corrupted += 1
        if self.on_error is not None:
            self.on_error(exc, raw)

    # -- what a backend implements ---------------------------------------------

    async def _open(self) -> None:  # noqa: B027 (optional hook)
        """Connect the transport. Must leave nothing behind if it raises (`_close` runs)."""

    async def _close(self) -> None:  # noqa: B027 (optional hook)
        """Release the transport; runs exactly once, even if `_open` never ran or failed."""

    async def _bind(self, eui: Eui64) -> None:  # noqa: B027 (optional hook)
        """Transport-side work for a new local address (already in ``_local``)."""

    @abstractmethod
    async def _send(self, raw: bytes) -> None:
        """Put one raw encoded envelope (or a manipulated piece of one) on the transport."""

    @abstractmethod
    async def _recv(self) -> bytes:
        """Wait for the next raw envelope; raise `LinkClosed` once the transport is gone."""


def scheme_of(url: str) -> str:
    """The backend name a URL selects; no ``scheme://`` means a serial device path."""
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else "serial"


def backend(scheme: str) -> type[Link]:
    """Import and return the Link class for a URL scheme (`BACKENDS`, then entry points)."""
    target = BACKENDS.get(scheme)
    if target is None:
        for point in entry_points(group=ENTRY_POINT_GROUP):
            if point.name == scheme:
                target = point.value
                break
        else:
            known = ", ".join(sorted(BACKENDS))
            raise LinkError(f"no HAN link backend for scheme {scheme!r} (known: {known})")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LinkError(f"backend {scheme!r} ({target}) cannot be imported: {exc}") from exc
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Link)):
        raise LinkError(f"backend {scheme!r}: {target} is not a Link subclass")
    return cls


def open_link(url: str, *, local: Iterable[EuiLike] = (), **options: Any) -> Link:
    """Build the link a URL names (no I/O yet: ``async with`` or `Link.open` connects).

    ``options`` go to the backend: the base ones (``timeout``, ``send_timeout``,
    ``on_error``, ``trace``, ``manipulator``) and the backend's own (serial
    ``baudrate``, MQTT ``client_id``, memory ``medium``...).
    """
    return backend(scheme_of(url))(url, local=local, **options)
