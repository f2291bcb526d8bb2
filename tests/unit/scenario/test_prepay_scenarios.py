"""Every scenario in hil/fixtures/scenarios/prepay passes, on the virtual clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.scenario import load_scenarios, run_scenarios
from hil.scenario.record import Verdict
from hil.scenario.runner import PREPAYMENT_TAG, prepayment_series

ROOT = Path(__file__).resolve().parents[3]
PREPAY = sorted((ROOT / "hil" / "fixtures" / "scenarios" / "prepay").glob("*.yaml"))


def test_there_are_prepay_scenarios() -> None:
    assert len(PREPAY) >= 6


@pytest.mark.parametrize("path", PREPAY, ids=[p.name for p in PREPAY])
async def test_prepay_scenarios_pass(path: Path) -> None:
    scenarios = load_scenarios(path)
    tags = {t for s in scenarios for t in s.tags}
    assert PREPAYMENT_TAG in tags  # what makes the runner record the money
    record = await run_scenarios(scenarios, seed=1, interactive=False)
    assert record.scenarios
    for s in record.scenarios:
        failed = [step.message for step in s.steps if step.verdict != Verdict.PASS]
        assert s.verdict == Verdict.PASS, (s.name, failed)
        balance = s.series[prepayment_series("ESME", "balance")]
        assert len(balance) >= len(s.steps)  # a sample after every step at least
        assert s.series_units[prepayment_series("GSME", "supply")] == "supply"
