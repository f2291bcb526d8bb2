"""A TCP-to-serial bridge in the manner of ser2net: one TCP client at a time, raw bytes.

A board on a bench PC's USB adapter is reached from elsewhere as
``socket://host:port``; this bridge is that server, so the harness's
``socket://`` path can be tested (and used) without installing ser2net. Bytes
go both ways untouched: the HAN frames ride on them. A second client is turned
away while one is connected; when the client leaves, the port stays open for
the next one. Opening the serial side uses the same URLs as a serial link.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Final

from emulator.han.serial import parse_serial_url
from hil.errors import HilError

log = logging.getLogger(__name__)

_READ: Final = 4096


class BridgeError(HilError):
    """The serial side of a bridge cannot be opened."""


class TcpBridge:
    """Serve `port` (a tty path or ``serial://PATH``) on TCP; `start` returns the TCP port."""

    def __init__(self, port: str, host: str = "127.0.0.1", tcp_port: int = 0) -> None:
        self.port = port
        self.host = host
        self.tcp_port = tcp_port
        self._fd = -1
        self._server: asyncio.Server | None = None
        self._client: asyncio.StreamWriter | None = None
        #: Bytes moved each way and clients turned away.
        self.to_port = 0
        self.to_client = 0
        self.refused = 0

    async def start(self) -> int:
        path, _ = parse_serial_url(self.port)
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise BridgeError(f"bridge: cannot open {self.port}: {exc.strerror}") from None
        loop = asyncio.get_running_loop()
        loop.add_reader(self._fd, self._from_port)
        self._server = await asyncio.start_server(self._serve, self.host, self.tcp_port)
        self.tcp_port = self._server.sockets[0].getsockname()[1]
        return self.tcp_port

    def _from_port(self) -> None:
        try:
            data = os.read(self._fd, _READ)
        except BlockingIOError:
            return
        except OSError as exc:  # the board went away: stop serving it
            log.warning("bridge %s: port lost: %s", self.port, exc)
            asyncio.get_running_loop().remove_reader(self._fd)
            if self._client is not None:
                self._client.close()
            return
        if self._client is not None and data:
            self.to_client += len(data)
            self._client.write(data)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._client is not None:
            self.refused += 1
            writer.close()
            return
        self._client = writer
        try:
            while data := await reader.read(_READ):
                self.to_port += len(data)
                view = memoryview(data)
                while view:
                    try:
                        view = view[os.write(self._fd, view) :]
                    except BlockingIOError:
                        await asyncio.sleep(0.001)
        except (ConnectionError, OSError) as exc:
            log.warning("bridge %s: %s", self.port, exc)
        finally:
            self._client = None
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            if self._client is not None:
                self._client.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        if self._fd >= 0:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
