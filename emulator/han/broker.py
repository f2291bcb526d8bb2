"""MQTT brokers for labs and tests: amqtt in-process, or a mosquitto subprocess.

`EmbeddedBroker` needs nothing installed beyond the project's dependencies, so
unit tests and a single-machine lab use it. `MosquittoBroker` runs the broker
users run (Debian's ``mosquitto``) for integration tests; it speaks MQTT 3.1.1
and 5, amqtt only 3.1.1. Both listen on 127.0.0.1 and hand out link URLs with
`url_for`, so a test never hard-codes a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
import time
from types import TracebackType
from typing import Any, Final, Self

from emulator.errors import LinkError
from emulator.han.mqtt import DEFAULT_LAB

log = logging.getLogger(__name__)

LOCALHOST: Final = "127.0.0.1"

#: Where distributions put the binary when ``sbin`` is not on PATH.
MOSQUITTO_PATHS: Final = (
    "/usr/sbin/mosquitto",
    "/usr/local/sbin/mosquitto",
    "/opt/homebrew/sbin/mosquitto",
)


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nothing listens on right now (for brokers that cannot bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _Broker:
    """A broker for tests and labs: `start` and `stop` it, or use it as a context manager."""

    host: str
    port: int

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def url_for(self, lab: str = DEFAULT_LAB) -> str:
        """The link URL of one lab on this broker."""
        return f"{self.url}/{lab}"


class EmbeddedBroker(_Broker):
    """An amqtt broker in this process and loop, as an async context manager.

    ``port=0`` (the default) binds a free port; read it from `port` or `url_for`.
    Only anonymous authentication is loaded: no ``$SYS`` publisher, whose
    periodic task would outlive short tests. It routes through indexes
    (`emulator.han._amqtt.IndexedBroker`): amqtt's own scans made a lab of
    1,000 premises quadratic to run and cubic to connect.
    """

    def __init__(self, port: int = 0, *, host: str = LOCALHOST) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    async def start(self) -> None:
        from emulator.han._amqtt import IndexedBroker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
        broker = IndexedBroker(config)
        try:
            await broker.start()
        except Exception as exc:
            raise LinkError(
                f"embedded broker cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        self._broker = broker
        if self.port == 0:
            # amqtt has no public accessor for the bound address (checked against 0.12).
            server = broker._servers["default"].instance
            self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.shutdown()

    async def crash(self) -> None:
        """Drop every client connection, then shut down (a broker restart drill).

        amqtt 0.12's orderly `shutdown` stops each session's handler and waits for
        its reader to finish handling the closed connection, which under traffic
        can wait forever (seen with a fleet's dozen clients), leaving the clients
        connected to a half-stopped broker. Aborting the sockets first lets every
        reader end by itself; the shutdown is then bounded, and the listener is
        closed in any case so the port can be bound again.
        """
        broker, self._broker = self._broker, None
        if broker is None:
            return
        # amqtt has no public "drop all clients" (checked against 0.12).
        for _, handler in list(broker._sessions.values()):
            writer = getattr(getattr(handler, "writer", None), "_writer", None)
            transport = getattr(writer, "transport", None)
            if transport is not None:
                transport.abort()
        for server in broker._servers.values():
            with contextlib.suppress(Exception):
                await server.close_instance()
        try:
            await asyncio.wait_for(broker.shutdown(), 5.0)
        except Exception as exc:  # a stuck amqtt session: the listener is closed already
            log.warning("embedded broker shutdown after crash: %r", exc)

    def __repr__(self) -> str:
        return f"<EmbeddedBroker {self.url}>"


def find_mosquitto() -> str | None:
    """The mosquitto binary, from PATH or the usual sbin directories; None if absent."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for path in MOSQUITTO_PATHS:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


class MosquittoBroker(_Broker):
    """``mosquitto -c CONFIG`` as a subprocess, as an async context manager.

    It gets a configuration file of its own: a loopback listener, anonymous
    clients (what a test wants) and ``set_tcp_nodelay true``, without which
    mosquitto holds every small publish ~40 ms (Nagle's algorithm meeting delayed
    ACKs). Its log goes to a temporary file (a pipe nobody reads would fill and
    stall the broker) and is quoted in the error when it fails to start.
    """

    def __init__(
        self, port: int = 0, *, binary: str | None = None, startup_timeout: float = 5.0
    ) -> None:
        self.host = LOCALHOST
        self.port = port
        self.binary = binary
        self.startup_timeout = startup_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._log: Any = None
        self._config: str | None = None

    async def start(self) -> None:
        binary = self.binary or find_mosquitto()
        if binary is None:
            raise LinkError("mosquitto not found (Debian: apt-get install mosquitto)")
        if self.port == 0:
            self.port = free_port(self.host)
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        fd, self._config = tempfile.mkstemp(prefix="smets-mosquitto-", suffix=".conf")
        with os.fdopen(fd, "w") as config:
            config.write(
                f"listener {self.port} {self.host}\nallow_anonymous true\nset_tcp_nodelay true\n"
            )
        self._process = await asyncio.create_subprocess_exec(
            binary,
            "-c",
            self._config,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if process.returncode is not None:
                raise LinkError(f"mosquitto exited with {process.returncode}: {self._log_tail()}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if time.monotonic() > deadline:
                    raise LinkError(
                        f"mosquitto not listening on {self.port} after "
                        f"{self.startup_timeout} s: {self._log_tail()}"
                    ) from None
                await asyncio.sleep(0.02)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        text: str = self._log.read().decode(errors="replace")
        return text.strip()[-2000:]

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._config is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._config)
            self._config = None

    def __repr__(self) -> str:
        return f"<MosquittoBroker {self.url}>"


class RestartableBroker(_Broker):
    """An embedded or mosquitto broker that can be stopped and started again on its port.

    What a broker restart drill needs (tests of reconnecting links and fleets):
    the clients keep their URL, and the new broker starts empty (no retained
    messages, no sessions), as a restarted broker without persistence does.
    """

    def __init__(self, kind: str = "embedded", port: int = 0) -> None:
        if kind not in ("embedded", "mosquitto"):
            raise LinkError(f"broker kind must be embedded or mosquitto, not {kind!r}")
        self.kind = kind
        self.host = LOCALHOST
        self.port = port or free_port(self.host)
        self.restarts = 0
        self._running: EmbeddedBroker | MosquittoBroker | None = None

    async def start(self) -> None:
        if self._running is not None:
            return
        broker = (
            EmbeddedBroker(self.port) if self.kind == "embedded" else MosquittoBroker(self.port)
        )
        await broker.start()
        self._running = broker

    async def stop(self) -> None:
        """Stop as a crashing broker does: every client connection drops at once."""
        broker, self._running = self._running, None
        if isinstance(broker, EmbeddedBroker):
            await broker.crash()
        elif broker is not None:
            await broker.stop()

    async def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down `down_s` seconds, start again on the same port."""
        await self.stop()
        await asyncio.sleep(down_s)
        await self.start()
        self.restarts += 1

    def __repr__(self) -> str:
        return f"<RestartableBroker {self.kind} {self.url}>"
