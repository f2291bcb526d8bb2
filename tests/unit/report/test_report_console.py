"""The terminal summary: a line per scenario, then the failing steps with file:line."""

from __future__ import annotations

from report_records import sample_run

from hil.report.console import summary_text
from hil.scenario.record import RunRecord


def test_one_line_per_scenario_then_the_failures() -> None:
    text = summary_text(sample_run())
    lines = text.splitlines()
    assert lines[0].split() == ["verdict", "scenario", "steps", "virtual", "real"]
    rows = lines[2:5]
    assert (
        rows[0].split()[0] == "PASS"
        and "7/7 passed" in rows[0]
        and "3d 00h 00m" in rows[0]
        and "1.80 s" in rows[0]
    )
    assert rows[1].split()[0] == "FAIL" and "2/5 passed, 2 failed  3m 20s" in rows[1]
    assert rows[2].split()[0] == "ERROR"
    assert "Failures:" in lines
    assert (
        "    [fail] top up again: expected I0, got E50 (rejected by ESME)"
        " (scenarios/alerts.yaml:12)" in lines
    )
    assert lines[-1] == "FAILED: 3 scenarios (1 pass, 1 fail, 1 error)"


def test_width_cuts_names_and_wraps_messages() -> None:
    text = summary_text(sample_run(), width=70)
    table = text.split("\n\n")[0].splitlines()
    assert all(len(line) <= 70 for line in table), table
    assert "…" in table[2]  # the long scenario name was cut
    failures = text.split("Failures:")[1].split("\n\n")[0].splitlines()
    assert all(len(line) <= 70 for line in failures if line)
    assert any(line.startswith("      ") for line in failures)  # a wrapped message continues


def test_a_passing_run_has_no_failure_block() -> None:
    record = sample_run()
    record.scenarios = record.scenarios[:1]
    text = summary_text(record)
    assert "Failures" not in text
    assert text.splitlines()[-1] == "PASSED: 1 scenario (1 pass)"
    assert summary_text(RunRecord("t", "now")).splitlines()[-1] == "PASSED: 0 scenarios (none run)"
