"""One board, several runs: a board under test keeps its replay counters between runs.

Every run of a lab file starts the lab's virtual clock at the same time; the DCC's
originator counters came from that clock alone, so a second run against the same
board repeated the first run's counters and the board refused each command as a
replay (silently, as GBCS has it): NO_RESPONSE after 30 s.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from board_support import Board, board_rack, external_lab

from hil.dcc.lab import external_counter_offset
from hil.fixtures import FIXTURES
from hil.scenario.model import load_scenarios
from hil.scenario.record import Verdict
from hil.scenario.runner import run_scenarios


@pytest.fixture
async def boards() -> AsyncIterator[Callable[[Path], Board]]:
    async with board_rack() as make:
        yield make


async def test_the_same_scenario_twice_on_one_board(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    (scenario,) = load_scenarios(FIXTURES / "scenarios" / "read-registers.yaml")
    board = boards(external_lab(tmp_path, "serial:///dev/null"))
    lab = external_lab(tmp_path, board.port)
    await board.start()
    try:
        verdicts = []
        for _ in range(2):  # a fresh lab each time, as `smets-hil run` makes one per file
            run = await run_scenarios([scenario], lab=lab, interactive=False)
            verdicts.append(
                [s.message for s in run.scenarios[0].steps if s.verdict == Verdict.FAIL]
            )
    finally:
        await board.stop()
    assert verdicts == [[], []]


def test_counters_rise_from_run_to_run_and_keep_their_order_within_one() -> None:
    start = _dt.datetime(2026, 1, 5, 9, tzinfo=_dt.UTC)
    wall = _dt.datetime(2026, 12, 2, 15, tzinfo=_dt.UTC)

    def counter(offset: int, at: _dt.datetime) -> int:
        return int(at.timestamp() * 1000) + offset

    first = external_counter_offset(wall, start)
    again = external_counter_offset(wall, start)  # a second lab within the same second
    late_in_first = counter(first, start + _dt.timedelta(days=30))  # a long virtual run
    assert counter(again, start) > late_in_first > counter(first, start)
    assert counter(again, start + _dt.timedelta(days=30)) < 2**64
