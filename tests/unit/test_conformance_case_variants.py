"""The replay answers a case with the device variant the reference lab used for it."""

from __future__ import annotations

import datetime as _dt

import pytest

from emulator.errors import EmulatorError
from emulator.gbcs.eui import Eui64
from hil.conformance import HistoryStep, Lab

ESME = Eui64("00-DB-12-34-56-78-90-A0")
GSME = Eui64("00-DB-12-34-56-78-90-A1")


def test_twin_cases_go_to_a_twin_esme_and_the_others_to_the_lab_default() -> None:
    lab = Lab.load()
    assert lab.variant("ECS21a_4.6.1_TWIN_SUCCESS", ESME) == "twin"
    assert lab.variant("ECS02_1.6_FUTURE_DATED_TWIN_SUCCESS", ESME) == "twin"
    assert lab.variant("ECS21a_4.6.1_SINGLE_SUCCESS", ESME) is None
    assert lab.variant("ECS21a_4.6.1_TWIN_SUCCESS", GSME) is None
    assert lab.variant("ECS17b_4.1.1_TWINS", ESME) is None  # a marker is a whole name part


def test_the_lab_history_presses_the_esme_boost_button_each_of_the_last_six_evenings() -> None:
    lab = Lab.load()
    (step,) = lab.history[bytes(ESME)]
    times = step.times(lab.now)
    assert len(times) == 6
    assert times[-1] < lab.now and times[0] > lab.now - _dt.timedelta(days=6)
    assert {t.time() for t in times} == {_dt.time(18, 0)}


def test_a_history_action_outside_the_list_is_refused() -> None:
    with pytest.raises(EmulatorError, match="action 'reset_meter' is not one of"):
        HistoryStep.load({"action": "reset_meter", "at": "18:00", "days": 1})
    with pytest.raises(EmulatorError, match="days: 0"):
        HistoryStep.load({"action": "press_boost_button", "at": "18:00", "days": 0})
    with pytest.raises(EmulatorError, match="history: at:"):
        HistoryStep.load({"action": "press_boost_button", "at": "evening", "days": 1})


def test_only_the_named_cases_get_the_commands_run_before_them() -> None:
    lab = Lab.load()
    before = lab.commands_before("ECS61a_7.7_ALL_OPTIONALS_SUCCESS")
    assert before == lab.commands_before("ECS61a_7.7_ALL_OPTIONALS_ERROR")
    assert [p.split("/")[0] for p in before] == ["6.14.2_ECS46c"] * 3
    assert lab.commands_before("ECS61e_7.15_SUCCESS") == []
    assert lab.commands_before("ECS61a_7.7_ALL_OPTIONALSX_SUCCESS") == []
