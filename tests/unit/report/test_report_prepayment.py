"""The report's Prepayment panel: balance and debt over virtual time, supply below."""

from __future__ import annotations

from report_records import stamp

from hil.report.html import render_html
from hil.report.plots import prepayment_svg, series_svg
from hil.scenario.record import RunRecord, ScenarioRecord, Verdict, prepayment_series

HOUR = 3600.0


def _prepay_scenario() -> ScenarioRecord:
    balance = [(stamp(h * HOUR, h).virtual, float(1000 - 400 * h)) for h in range(4)]
    balance.append((stamp(4 * HOUR, 4).virtual, 1500.0))
    debt = [(stamp(h * HOUR, h).virtual, 250.0) for h in range(5)]
    supply = [(stamp(h * HOUR, h).virtual, 1.0 if h < 3 else 0.0) for h in range(4)]
    supply.append((stamp(4 * HOUR, 4).virtual, 0.5))
    units = {"balance": "pence", "debt": "pence", "supply": "supply"}
    values = {"balance": balance, "debt": debt, "supply": supply}
    return ScenarioRecord(
        "run out of credit",
        "prepay/run-out.yaml",
        "demo lab",
        1,
        {},
        Verdict.PASS,
        stamp(0, 0),
        stamp(4 * HOUR, 4),
        series={
            **{prepayment_series("ESME", k): v for k, v in values.items()},
            "ESME.meter.import_wh": [(stamp(0, 0).virtual, 0.0), (stamp(HOUR, 1).virtual, 500.0)],
        },
        series_units={
            **{prepayment_series("ESME", k): u for k, u in units.items()},
            "ESME.meter.import_wh": "Wh",
        },
    )


def test_the_prepayment_plot_draws_balance_debt_and_supply() -> None:
    svg = prepayment_svg(_prepay_scenario(), "t")
    assert svg is not None and svg.startswith("<svg")
    for text in ("ESME balance", "ESME debt", "ESME supply", "disabled", "armed", "enabled"):
        assert text in svg


def test_prepayment_series_stay_out_of_the_general_plot() -> None:
    svg = series_svg(_prepay_scenario(), "t")
    assert svg is not None
    assert "ESME.meter.import_wh" in svg
    assert "ESME balance" not in svg


def test_the_html_report_has_a_prepayment_panel_only_when_there_is_money() -> None:
    page = render_html(RunRecord("smets-hil", "now", [_prepay_scenario()]))
    assert page.count('class="plot prepayment"') == 1
    plain = _prepay_scenario()
    plain.series = {k: v for k, v in plain.series.items() if "prepayment" not in k}
    assert prepayment_svg(plain, "t") is None
    assert 'class="plot prepayment"' not in render_html(RunRecord("smets-hil", "now", [plain]))
