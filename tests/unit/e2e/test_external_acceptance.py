"""Acceptance of issue 12: the join, prepay and firmware scenarios, unchanged, with the
ESME as a device under test in its own process, behind a pty and behind a socket://
bridge.

The lab file of each scenario is rewritten only to make its ESME external on the
port, with bench hooks that drive the board's debug console (hil/board_console.py):
the lab's `advance` moves the board's clock, `set_load` its load. What the scenario
checks on answers (reads, alerts, supply state and logs read through the DCC) comes
over the port; steps that read the inside of the ESME are SKIP with the reason.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from board_support import Board, board_rack

from hil.bridge import TcpBridge
from hil.fixtures import FIXTURES
from hil.scenario.model import Scenario, load_scenarios
from hil.scenario.record import ScenarioRecord, Verdict
from hil.scenario.runner import run_scenarios

#: 36 cases, each a scenario file against a fresh ESME process: minutes in all. Never
#: skipped: `make test` and CI run them; `-m 'not slow'` leaves them out locally.
pytestmark = pytest.mark.slow

SCENARIOS = FIXTURES / "scenarios"
FOLDERS: dict[str, list[Path]] = {
    "join": sorted((SCENARIOS / "join").glob("*.yaml")),
    "prepay": sorted((SCENARIOS / "prepay").glob("*.yaml")),
    "firmware": [SCENARIOS / "firmware" / "firmware.py"],
}


def console_hook(socket: Path, command: str) -> str:
    cli = f"{shlex.quote(sys.executable)} -m hil.cli board-console {shlex.quote(str(socket))}"
    return f"{cli} {command}"


def lab_for(scenario: Scenario, tmp_path: Path, link: str, console: Path) -> Path:
    """The scenario's own lab with its ESME external on `link`, hooked to its console."""
    assert scenario.lab is not None
    source = Path(scenario.lab)
    data: dict[str, Any] = yaml.safe_load(source.read_text())
    hooks = {
        "set_clock": console_hook(console, "clock {iso_time}"),
        "set_load": console_hook(console, "load {load_w}"),
        "han_join": console_hook(console, "join"),
        "reset_han": console_hook(console, "reset_han {install_code}"),
    }
    for premises in data["premises"]:
        for device in premises["devices"]:
            if device["type"] == "ESME":
                # The board's hardware version, as the SMI's device model tells a DCC.
                device.update(external=True, link=link, hooks=hooks, hardware_version=1)
    path = tmp_path / f"dut-{source.name}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
async def boards() -> AsyncIterator[Callable[[Path], Board]]:
    async with board_rack() as make:
        yield make


def problems(record: ScenarioRecord) -> str:
    return "; ".join(
        f"{s.name}: {s.message}" for s in record.steps if s.verdict in (Verdict.FAIL, Verdict.ERROR)
    )


async def run_against_a_board(
    tmp_path: Path, make: Callable[[Path], Board], scenario: Scenario, bridge: bool
) -> ScenarioRecord:
    console = tmp_path / "esme.sock"
    board = make(tmp_path / "unused.yaml")
    board.console = console
    tcp = TcpBridge(board.port) if bridge else None
    url = board.port if tcp is None else f"socket://127.0.0.1:{await tcp.start()}"
    board.lab = lab_for(scenario, tmp_path, board.port, console)
    lab = lab_for(scenario, tmp_path, url, console)
    await board.start()
    try:
        run = await run_scenarios([scenario], lab=lab, interactive=False, seed=1)
    finally:
        if tcp is not None:
            await tcp.stop()
        await board.stop()
    (record,) = run.scenarios
    return record


#: Scenarios whose every step acts on the inside of the ESME: all SKIP, with the reason.
ALL_INSIDE: set[str] = set()
#: Consumer actions at the emulated PPMID on the external ESME: they go over the HAN (ZSE
#: frames through the hub, docs/wire-protocol.md) and pass, by scenario file. The UTRN
#: replayed from a step typed at the board's own keypad (a SKIP) stays SKIP.
OVER_THE_HAN = {
    "electricity-emergency-credit.yaml": 3,
    "night-non-disablement.yaml": 2,
    "replayed-utrn.yaml": 1,
    "run-out-of-credit.yaml": 2,
    "top-up-remote-and-ppmid.yaml": 1,
    "utrn-over-credit-limits.yaml": 2,
}

CASES = [
    pytest.param(folder, path, id=f"{folder}/{path.name}")
    for folder, paths in FOLDERS.items()
    for path in paths
]


@pytest.mark.parametrize("bridge", [False, True], ids=["pty", "socket"])
@pytest.mark.parametrize(("folder", "path"), CASES)
async def test_scenarios_pass_with_the_esme_external(
    tmp_path: Path, boards: Callable[[Path], Board], folder: str, path: Path, bridge: bool
) -> None:
    for scenario in load_scenarios(path):
        record = await run_against_a_board(tmp_path, boards, scenario, bridge)
        want = Verdict.SKIP if path.name in ALL_INSIDE else Verdict.PASS
        assert record.verdict == want, (scenario.name, problems(record))
        if any(m.kind == "command" and m.target == "ESME" for m in record.messages):
            assert any(m.kind == "response" and m.source == "ESME" for m in record.messages), (
                "the ESME answered nothing over the port"
            )
        for step in record.steps:
            if step.verdict == Verdict.SKIP:  # only for the inside of the board, saying so
                assert "ESME" in step.message and "external" in step.message, step.message
        han = [s for s in record.steps if "over the HAN" in s.message]
        assert all(s.verdict == Verdict.PASS for s in han), problems(record)
        assert len(han) == OVER_THE_HAN.get(path.name, 0), [s.message for s in han]
