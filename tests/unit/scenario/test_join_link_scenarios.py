"""The join-on-the-link scenarios (hil/fixtures/scenarios/join/) pass on the demo lab,
and the `reset_han` action is checked when the file is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.scenario import load_scenarios, run_scenarios
from hil.scenario.model import ActionStep
from hil.scenario.record import Verdict

JOIN = Path(__file__).resolve().parents[3] / "hil" / "fixtures" / "scenarios" / "join"
OURS = ["wrong-install-code.yaml", "window-expires.yaml"]


@pytest.mark.parametrize("name", OURS)
async def test_join_scenario_passes(name: str) -> None:
    record = await run_scenarios(load_scenarios(JOIN / name), seed=1, interactive=False)
    [scenario] = record.scenarios
    failed = [step.message for step in scenario.steps if step.verdict != Verdict.PASS]
    assert scenario.verdict == Verdict.PASS, failed
    asserted = [step.message for step in scenario.steps if step.name.startswith("assert")]
    assert any("joined = True" in m for m in asserted)
    assert any("joined = False" in m for m in asserted)


def test_reset_han_install_code_must_be_hex() -> None:
    with pytest.raises(ValueError, match="install_code: not hex"):
        ActionStep(action="reset_han", device="ESME", install_code="zz")
    assert ActionStep(action="reset_han", device="ESME").install_code is None
