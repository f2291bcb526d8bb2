"""The prepayment scenarios of this engine pass on the virtual clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.scenario import load_scenarios, run_scenarios
from hil.scenario.record import Verdict

ROOT = Path(__file__).resolve().parents[3]
PREPAY = ROOT / "hil" / "fixtures" / "scenarios" / "prepay"
OURS = [
    PREPAY / "thirty-days.yaml",
    PREPAY / "tariff-change-midnight.yaml",
    PREPAY / "electricity-emergency-credit.yaml",
]


@pytest.mark.parametrize("path", OURS, ids=[p.name for p in OURS])
async def test_prepay_scenario_passes(path: Path) -> None:
    record = await run_scenarios(load_scenarios(path), seed=1, interactive=False)
    assert record.scenarios
    for s in record.scenarios:
        failed = [step.message for step in s.steps if step.verdict != Verdict.PASS]
        assert s.verdict == Verdict.PASS, (s.name, failed)
