"""One board, several runs: a board under test keeps its replay counters between runs.

Every run of a lab file starts the lab's virtual clock at the same time; the DCC's
originator counters came from that clock alone, so a second run against the same
board repeated the first run's counters and the board refused each command as a
replay (silently, as GBCS has it): NO_RESPONSE after 30 s. The UTRN counters of
top-ups started at 1 in every run likewise, and the board refused the second
run's top-ups as duplicates; a lab now keeps the last step per device under test
in a file (hil/utrn.py).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from board_support import ESME, Board, board_rack, external_lab

from emulator.gbcs import utrn
from emulator.gbcs.eui import Eui64
from hil.dcc.lab import DEFAULT_LAB, Lab, external_counter_offset
from hil.fixtures import FIXTURES
from hil.scenario.model import load_scenarios
from hil.scenario.record import Verdict
from hil.scenario.runner import run_scenarios
from hil.send import load_lab, send_request
from hil.utrn import KeptUtrnCounters, UtrnCounterFileError, utrn_counter_file

TOP_UPS = """\
name: two top-ups
steps:
  - name: first top-up
    request: "2.2"
    user: supplier
    target: ESME
    params: {amount_pence: 500}
    expect: {status: completed}
  - name: second top-up
    request: "2.2"
    user: supplier
    target: ESME
    params: {amount_pence: 250}
    expect: {status: completed}
"""


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


async def test_a_second_runs_top_ups_are_credited_by_a_board_that_remembers_utrns(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    path = tmp_path / "top-ups.yaml"
    path.write_text(TOP_UPS)
    (scenario,) = load_scenarios(path)
    board = boards(external_lab(tmp_path, "serial:///dev/null"))
    lab = external_lab(tmp_path, board.port)
    await board.start()  # one board process: it keeps the UTRN counters it accepted
    try:
        verdicts = []
        for _ in range(2):
            run = await run_scenarios([scenario], lab=lab, interactive=False)
            verdicts.append(
                [s.message for s in run.scenarios[0].steps if s.verdict == Verdict.FAIL]
            )
    finally:
        await board.stop()
    assert verdicts == [[], []]  # before: the second run's top-ups refused as duplicates
    assert json.loads(utrn_counter_file().read_text()) == {bytes(Eui64(ESME)).hex(): 4}


async def test_send_and_a_lab_run_share_the_kept_utrn_counters(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    """`smets-hil send` tops up the same board between runs: it continues the count."""
    path = tmp_path / "top-ups.yaml"
    path.write_text(TOP_UPS)
    (scenario,) = load_scenarios(path)
    board = boards(external_lab(tmp_path, "serial:///dev/null"))
    lab = external_lab(tmp_path, board.port)
    await board.start()
    try:
        run = await run_scenarios([scenario], lab=lab, interactive=False)
        answers = [
            await send_request(load_lab(None, board.port), "2.2", "ESME", "supplier")
            for _ in range(2)
        ]
        again = await run_scenarios([scenario], lab=lab, interactive=False)
    finally:
        await board.stop()
    assert run.scenarios[0].verdict == again.scenarios[0].verdict == Verdict.PASS
    assert [a.ok for a in answers] == [True, True], [a.summary for a in answers]
    assert json.loads(utrn_counter_file().read_text()) == {bytes(Eui64(ESME)).hex(): 6}


def test_kept_counters_go_on_from_the_last_run_and_a_device_takes_them() -> None:
    esme, emulated = bytes(Eui64(ESME)), bytes(Eui64("00-DB-12-34-56-78-90-A1"))
    accepted: list[int] = []  # the device's counter cache

    def device_takes(step: int) -> bool:
        """The ESME's rule (emulator/devices/topup.py): a counter it can rebuild from the
        ten bits the digits carry and the last it accepted, and not one it took before."""
        counter = step << utrn.COUNTER_BITS_SHIFT
        candidates = utrn.counter_candidates(
            step & utrn.COUNTER_BITS_MASK, max(accepted, default=0)
        )
        if counter not in candidates or counter in accepted:
            return False
        accepted.append(counter)
        return True

    for run in range(3):
        counters = KeptUtrnCounters(utrn_counter_file(), [esme])
        for _ in range(2):
            counters[esme] = counters.get(esme, 0) + 1
            counters[emulated] = counters.get(emulated, 0) + 1
            assert device_takes(counters[esme]), (run, counters[esme])
        assert counters[emulated] == 2  # an emulated device counts from 1 in every run
    assert [c >> 32 for c in accepted] == [1, 2, 3, 4, 5, 6]
    assert not device_takes(1)  # what every run sent before: a duplicate


def test_a_run_started_meanwhile_is_not_counted_back() -> None:
    esme = bytes(Eui64(ESME))
    first = KeptUtrnCounters(utrn_counter_file(), [esme])
    second = KeptUtrnCounters(utrn_counter_file(), [esme])
    second[esme] = 7
    first[esme] = 3  # the slower run: the file keeps the higher step
    assert KeptUtrnCounters(utrn_counter_file(), [esme])[esme] == 7


def test_a_damaged_counter_file_is_one_line_naming_it() -> None:
    path = utrn_counter_file()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(UtrnCounterFileError, match=r"utrn-counters.json: not a UTRN counter"):
        KeptUtrnCounters(path, [bytes(Eui64(ESME))])


async def test_a_virtual_lab_counts_utrns_from_1_and_keeps_no_file() -> None:
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        assert lab.dcc is not None
        assert type(lab.dcc.utrn_counters) is dict
    assert not os.path.exists(utrn_counter_file())
