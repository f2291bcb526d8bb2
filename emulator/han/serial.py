"""HAN envelopes over a serial line: real ports, ptys and pyserial URL handlers.

A device maker's test shim sits on a UART; this link is the other end. Any URL
pyserial understands works (``socket://`` for ser2net, ``rfc2217://`` for
network COM servers, ``loop://``), plus plain device paths, ``serial://PATH``
and ``fd://N`` (an already open descriptor, e.g. the master side of a pty, so
two links can talk over a real pty without a relay). Frames are those of
`emulator.han.framing`.

Line settings default to 115200 8N1 and can be set in the URL query
(``serial:///dev/ttyUSB0?baudrate=9600&parity=E``) or as keyword options, which
win. The remaining query parameters go to pyserial untouched
(``socket://host:4000?logging=debug``).

The line is point to point: every good frame goes up, and the base class does
the destination filtering. The asyncio loop never blocks on the port: when the
port has a file descriptor (ttys, ptys, ``socket://``), reads and writes go
through ``loop.add_reader``/``add_writer`` on it; otherwise (``rfc2217://``,
``loop://``) one daemon thread per link reads and hands bytes to the loop with
``call_soon_threadsafe``, and writes run in the default executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import tty
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import parse_qsl, urlencode

from emulator.errors import LinkClosed, LinkError
from emulator.han.framing import MAX_BODY, Deframer, encode_frame
from emulator.han.link import EuiLike, Inbox, Link

#: Line settings a URL query may carry (everything else is pyserial's).
LINE_SETTINGS: Final = ("baudrate", "bytesize", "parity", "stopbits", "xonxoff", "rtscts", "dsrdtr")

DEFAULT_LINE: Final[dict[str, Any]] = {
    "baudrate": 115200,
    "bytesize": 8,
    "parity": "N",
    "stopbits": 1,
    "xonxoff": False,
    "rtscts": False,
    "dsrdtr": False,
}

#: How often a reader thread looks up from a quiet port to see if it should stop.
THREAD_POLL: Final = 0.05

_READ_SIZE: Final = 65536

ReaderMode = Literal["auto", "fd", "thread"]


def _setting(name: str, value: str) -> Any:
    if name in ("baudrate", "bytesize"):
        return int(value)
    if name == "stopbits":
        number = float(value)
        return int(number) if number.is_integer() else number
    if name == "parity":
        return value.upper()[:1]
    return value.lower() in ("1", "true", "yes", "on")


def parse_serial_url(url: str) -> tuple[str, dict[str, Any]]:
    """Split a link URL into what pyserial opens and the line settings in its query.

    ``serial://`` is ours and is stripped (``serial:///dev/ttyUSB0`` opens
    ``/dev/ttyUSB0``); other schemes are pyserial's and keep their own query
    parameters.
    """
    base, _, query = url.partition("?")
    settings: dict[str, Any] = {}
    passthrough: list[tuple[str, str]] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in LINE_SETTINGS:
            try:
                settings[name] = _setting(name, value)
            except ValueError:
                raise LinkError(f"{url}: bad {name} {value!r}") from None
        else:
            passthrough.append((name, value))
    if base.lower().startswith("serial://"):
        base = base[len("serial://") :]
        if not base:
            raise LinkError(f"{url}: serial URL needs a device path")
    target = base + ("?" + urlencode(passthrough) if passthrough else "")
    return target, settings


class SerialLink(Link):
    """A point-to-point link over one serial port (see the module docstring for URLs).

    ``reader`` forces how bytes are read: ``"fd"`` (requires a file
    descriptor), ``"thread"``, or ``"auto"`` (fd when there is one).
    ``max_body`` bounds a frame (oversize frames are dropped by the deframer).
    CRC failures and aborted frames count as ``corrupted`` and reach
    ``on_error`` as a `LinkError`.
    """

    def __init__(
        self,
        url: str,
        *,
        local: Iterable[EuiLike] = (),
        baudrate: int | None = None,
        bytesize: int | None = None,
        parity: str | None = None,
        stopbits: float | None = None,
        xonxoff: bool | None = None,
        rtscts: bool | None = None,
        dsrdtr: bool | None = None,
        reader: ReaderMode = "auto",
        max_body: int = MAX_BODY,
        max_queue: int = 0,
        **options: Any,
    ) -> None:
        if reader not in ("auto", "fd", "thread"):
            raise LinkError(f"reader must be 'auto', 'fd' or 'thread', not {reader!r}")
        self._fd_url = url.lower().startswith("fd://")
        url_settings: dict[str, Any]
        if self._fd_url:
            try:
                self._given_fd = int(url[len("fd://") :])
            except ValueError:
                raise LinkError(f"{url}: fd:// needs a file descriptor number") from None
            self._target, url_settings = url, {}
        else:
            self._given_fd = -1
            self._target, url_settings = parse_serial_url(url)
        explicit = {
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
            "xonxoff": xonxoff,
            "rtscts": rtscts,
            "dsrdtr": dsrdtr,
        }
        #: Line settings in force: defaults, then the URL query, then keyword options.
        self.line: dict[str, Any] = {
            **DEFAULT_LINE,
            **url_settings,
            **{k: v for k, v in explicit.items() if v is not None},
        }
        self.reader_mode: ReaderMode = reader
        self.deframer = Deframer(max_body, on_error=self._frame_error)
        self._inbox = Inbox(max_queue)
        self._port: Any = None  # a pyserial SerialBase; untyped upstream
        self._fd = -1
        self._reading = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._write_lock = asyncio.Lock()
        self._lost: BaseException | None = None
        super().__init__(url, local=local, **options)

    @property
    def port(self) -> Any:
        """The pyserial object (None for ``fd://`` and before `open`)."""
        return self._port

    # -- lifecycle ---------------------------------------------------------------

    async def _open(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        if self._fd_url:
            if self.reader_mode == "thread":
                raise LinkError(f"{self.url}: fd:// is read through its descriptor, not a thread")
            os.set_blocking(self._given_fd, False)
            self._fd = self._given_fd
            self._start_fd_reader()
            return
        import serial  # pyserial; imported here so `import emulator.han` stays light

        thread_mode = self.reader_mode == "thread"
        opener = functools.partial(
            serial.serial_for_url,
            self._target,
            timeout=THREAD_POLL if thread_mode else 0,
            write_timeout=None,
            **self.line,
        )
        try:
            # Opening can block: rfc2217 negotiates, socket:// connects.
            self._port = await loop.run_in_executor(None, opener)
        except (OSError, ValueError, serial.SerialException) as exc:
            raise LinkError(f"{self.url}: cannot open port: {exc}") from exc
        fd = -1
        if not thread_mode:
            try:
                fd = int(self._port.fileno())
            except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
                if self.reader_mode == "fd":
                    raise LinkError(f"{self.url}: port has no file descriptor") from None
        if fd >= 0:
            self._fd = fd
            self._start_fd_reader()
        else:
            if not thread_mode:
                # Off the loop: on rfc2217:// a new timeout renegotiates every port
                # setting with the server and waits for its answers.
                port = self._port
                await loop.run_in_executor(None, setattr, port, "timeout", THREAD_POLL)
            self._thread = threading.Thread(
                target=self._read_thread,
                args=(self._port, loop),
                name=f"smets-serial-reader[{self.url}]",
                daemon=True,
            )
            self._thread.start()

    async def _close(self) -> None:
        self._inbox.close(LinkClosed(f"{self.url}: link is closed"))
        self._stop_fd_reader()
        thread, self._thread = self._thread, None
        port, self._port = self._port, None
        if thread is not None:
            self._stop.set()
            with contextlib.suppress(Exception):
                port.cancel_read()
            await asyncio.to_thread(thread.join, 5 * THREAD_POLL + 1.0)
        if port is not None:
            # Off the loop: pyserial's socket:// sleeps 0.3 s in close(), rfc2217 joins a thread.
            await asyncio.to_thread(port.close)
        self._fd = -1

    # -- reading -----------------------------------------------------------------

    def _start_fd_reader(self) -> None:
        assert self._loop is not None
        self._loop.add_reader(self._fd, self._on_readable)
        self._reading = True

    def _stop_fd_reader(self) -> None:
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._reading = False

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # EIO: the other side of a pty went away
            self._on_lost(exc)
            return
        if not data:
            self._on_lost(EOFError("end of stream"))
            return
        self._on_data(data)

    def _read_thread(self, port: Any, loop: asyncio.AbstractEventLoop) -> None:
        stop = self._stop
        while not stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except Exception as exc:
                if not stop.is_set():
                    with contextlib.suppress(RuntimeError):  # loop already closed
                        loop.call_soon_threadsafe(self._on_lost, exc)
                return
            if data and not stop.is_set():
                try:
                    loop.call_soon_threadsafe(self._on_data, data)
                except RuntimeError:
                    return

    def _on_data(self, data: bytes) -> None:
        for body in self._bodies(data):
            if not self._inbox.put(body):
                self.counters.dropped += 1

    def _bodies(self, data: bytes) -> list[bytes]:
        """Encoded envelopes in a chunk of bytes from the port (a line format overrides it)."""
        return self.deframer.feed(data)

    def _frame(self, raw: bytes) -> bytes | None:
        """What goes on the port for one encoded envelope; None sends nothing."""
        return encode_frame(raw)

    def _on_lost(self, exc: BaseException) -> None:
        if self._closed or self._lost is not None:
            return
        self._lost = exc
        self._stop_fd_reader()
        error = LinkClosed(f"{self.url}: port lost: {exc}")
        error.__cause__ = exc
        self._inbox.close(error)

    def _frame_error(self, reason: str, raw: bytes) -> None:
        self._report_corrupt(LinkError(f"{self.url}: frame dropped ({reason})"), raw)

    async def _recv(self) -> bytes:
        return await self._inbox.get()

    # -- writing -----------------------------------------------------------------

    async def _send(self, raw: bytes) -> None:
        if self._lost is not None:
            raise LinkClosed(f"{self.url}: port lost: {self._lost}") from self._lost
        frame = self._frame(raw)
        if frame is None:
            return
        async with self._write_lock:  # frames from concurrent senders must not interleave
            if self._fd >= 0:
                await self._write_fd(frame)
            else:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, self._port.write, frame)

    async def write_bytes(self, data: bytes) -> None:
        """Put bytes on the port outside any frame (line noise for a shim's resync check)."""
        if not self._opened:
            await self.open()
        if self._lost is not None:
            raise LinkClosed(f"{self.url}: port lost: {self._lost}") from self._lost
        async with self._write_lock:
            if self._fd >= 0:
                await self._write_fd(data)
            else:
                await asyncio.get_running_loop().run_in_executor(None, self._port.write, data)

    async def _write_fd(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view)
            except (BlockingIOError, InterruptedError):
                await self._writable()
                continue
            except OSError as exc:
                raise LinkClosed(f"{self.url}: write failed: {exc}") from exc
            view = view[written:]

    async def _writable(self) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_writer(self._fd, wake)
        try:
            await ready
        finally:
            loop.remove_writer(self._fd)


class PtyPair:
    """Both ends of a raw-mode pseudo-terminal, for tests and benchmarks.

    The slave has a path (``slave_path``, ``slave_url``) that any serial code
    can open. The master has no openable path on Linux (``os.ttyname`` says
    ``/dev/ptmx``, and opening that makes a new pty), so it is offered as a
    descriptor: write noise to ``master_fd`` directly, or open
    ``master_url`` (``fd://N``) as a second `SerialLink`. The pair keeps a slave
    descriptor open itself so the master never sees EIO while no link has the
    slave open.
    """

    def __init__(self) -> None:
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            self.slave_path = os.ttyname(slave)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self.master_fd = master
        self._slave_fd = slave

    @property
    def slave_url(self) -> str:
        return f"serial://{self.slave_path}"

    @property
    def master_url(self) -> str:
        return f"fd://{self.master_fd}"

    def close(self) -> None:
        """Close both descriptors (idempotent); close links on ``master_url`` first."""
        for name in ("master_fd", "_slave_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, -1)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PtyPair master_fd={self.master_fd} slave={self.slave_path}>"


def pty_pair() -> PtyPair:
    """A raw pty: ``master_fd`` for the far side, ``slave_path`` for a `SerialLink`."""
    return PtyPair()
