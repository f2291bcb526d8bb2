"""The prepayment scenarios of this engine pass on the virtual clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_support import scenarios_pass

from hil.report.html import render_html
from hil.scenario import load_scenarios, run_scenarios
from hil.scenario.record import prepayment_series

ROOT = Path(__file__).resolve().parents[3]
PREPAY = ROOT / "hil" / "fixtures" / "scenarios" / "prepay"
OURS = [
    PREPAY / "thirty-days.yaml",
    PREPAY / "tariff-change-midnight.yaml",
    PREPAY / "electricity-emergency-credit.yaml",
]


@pytest.mark.parametrize("path", OURS, ids=[p.name for p in OURS])
async def test_prepay_scenario_passes(path: Path) -> None:
    await scenarios_pass(path)


async def test_the_report_plots_balance_and_debt_of_a_prepay_scenario() -> None:
    """Issue acceptance: the HTML report plots balance and debt over time."""
    path = PREPAY / "electricity-emergency-credit.yaml"
    record = await run_scenarios(load_scenarios(path), seed=1, interactive=False)
    (scenario,) = record.scenarios
    balance = [v for _, v in scenario.series[prepayment_series("ESME", "balance")]]
    assert min(balance) <= -1000 and max(balance) >= 990  # emergency credit spent, then repaid
    assert prepayment_series("ESME", "debt") in scenario.series
    supply = {v for _, v in scenario.series[prepayment_series("ESME", "supply")]}
    assert supply == {0.0, 0.5, 1.0}  # disabled, armed, enabled
    page = render_html(record)
    assert page.count('class="plot prepayment"') == 1
