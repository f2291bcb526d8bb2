"""The serial bridges to a device under test (an ESME process on a pty): an RFC 2217
server (pyserial's `PortManager` on the server side, our rfc2217:// link on the
client side), and a socket:// bridge (ser2net) that restarts under a running lab."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import serial
import serial.rfc2217
from board_support import Board, board_rack, external_lab, until_online

from hil.bridge import TcpBridge
from hil.dcc.lab import Lab
from hil.fixtures import FIXTURES
from hil.scenario.model import load_scenarios
from hil.scenario.record import Verdict
from hil.scenario.runner import run_scenario, run_scenarios

READ = FIXTURES / "scenarios" / "read-registers.yaml"


@pytest.fixture
async def boards() -> AsyncIterator[Callable[[Path], Board]]:
    async with board_rack() as make:
        yield make


class _PtyPort(serial.Serial):
    """A pty has no modem lines: they read as a 3-wire adapter's (CTS, DSR, CD up)
    and setting RTS/DTR does nothing, instead of failing with ENOTTY."""

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass


class _Writer:
    """Where `PortManager` writes its telnet answers: the TCP client."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    def write(self, data: bytes) -> None:
        self.writer.write(data)


class Rfc2217Server:
    """A minimal RFC 2217 port server (one client at a time) on a pty, as a bench PC runs."""

    def __init__(self, path: str) -> None:
        self.port = _PtyPort(path, timeout=0)
        self.server: asyncio.Server | None = None
        self.settings: list[int] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        manager = serial.rfc2217.PortManager(self.port, _Writer(writer))
        loop = asyncio.get_running_loop()

        def from_port() -> None:
            data = self.port.read(4096)
            if data:
                writer.write(b"".join(manager.escape(data)))

        loop.add_reader(self.port.fileno(), from_port)
        try:
            while data := await reader.read(4096):
                out = b"".join(manager.filter(data))
                self.settings.append(self.port.baudrate)
                if out:
                    self.port.write(out)
        finally:
            loop.remove_reader(self.port.fileno())
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
        self.port.close()


async def test_a_read_passes_through_an_rfc2217_server(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    board = boards(tmp_path / "unused.yaml")
    board.lab = external_lab(tmp_path, board.port)
    await board.start()
    server = Rfc2217Server(board.pty.slave_path)
    tcp = await server.start()
    try:
        lab = external_lab(tmp_path, f"rfc2217://127.0.0.1:{tcp}?baudrate=57600")
        run = await run_scenarios(load_scenarios(READ), lab=lab, interactive=False)
    finally:
        await server.stop()
    (record,) = run.scenarios
    assert record.verdict == Verdict.PASS, [s.message for s in record.steps]
    assert 57600 in server.settings  # the line settings went over RFC 2217 to the port
    assert any(m.kind == "response" and m.source == "ESME" for m in record.messages)


async def test_a_socket_bridge_that_restarts_brings_the_device_back(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    board = boards(tmp_path / "unused.yaml")
    board.lab = external_lab(tmp_path, board.port)
    await board.start()
    bridge = TcpBridge(board.port)
    port = await bridge.start()
    lab = Lab.load(external_lab(tmp_path, f"socket://127.0.0.1:{port}", {"response_timeout_s": 1}))
    (read,) = load_scenarios(READ)
    await lab.start()
    try:
        external = lab.external("ESME")
        assert external is not None and external.online
        assert (await run_scenario(read, lab, interactive=False)).verdict == Verdict.PASS
        await bridge.stop()  # ser2net restarted: the TCP connection drops
        for _ in range(100):
            if not external.online:
                break
            await asyncio.sleep(0.05)
        assert external.state == "offline" and external.losses == 1
        bridge = TcpBridge(board.port, tcp_port=port)
        await bridge.start()
        await until_online(external)
        assert external.online and external.reconnects == 1
        back = await run_scenario(read, lab, interactive=False)
        assert back.verdict == Verdict.PASS, [s.message for s in back.steps]
    finally:
        await lab.stop()
        await bridge.stop()
