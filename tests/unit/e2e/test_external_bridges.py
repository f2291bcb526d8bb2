"""A socket:// bridge (ser2net) in front of an ESME process on a pty restarts under a
running lab: the device goes offline and comes back on its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from board_support import Board, board_rack, external_lab

from hil.bridge import TcpBridge
from hil.dcc.lab import Lab
from hil.fixtures import FIXTURES
from hil.scenario.model import load_scenarios
from hil.scenario.record import Verdict
from hil.scenario.runner import run_scenario

READ = FIXTURES / "scenarios" / "read-registers.yaml"


@pytest.fixture
async def boards() -> AsyncIterator[Callable[[Path], Board]]:
    async with board_rack() as make:
        yield make


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
        for _ in range(200):
            if external.online:
                break
            await asyncio.sleep(0.05)
        assert external.online and external.reconnects == 1
        back = await run_scenario(read, lab, interactive=False)
        assert back.verdict == Verdict.PASS, [s.message for s in back.steps]
    finally:
        await lab.stop()
        await bridge.stop()
