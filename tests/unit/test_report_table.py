"""Terminal output: tables that fit the terminal, counts that read right, timing fields."""

from __future__ import annotations

import pytest

from hil.dcc.timing import Category, ResponseTiming
from hil.report.table import format_table, plural, terminal_width

HEADERS = ["request", "status", "detail"]
ROWS = [
    ["supplier reads the electricity meter at 1 Lab Street", "completed", "ECS17b: 1/1 " * 8],
    ["short", "refused", "ROLE_NOT_ELIGIBLE"],
]


def test_without_a_width_nothing_is_cut() -> None:
    table = format_table(HEADERS, ROWS)
    assert ROWS[0][0] in table
    assert ROWS[0][2].rstrip() in table
    assert "…" not in table


@pytest.mark.parametrize("width", [60, 80, 120])
def test_a_width_cuts_only_the_shrinkable_columns(width: int) -> None:
    table = format_table(HEADERS, ROWS, width=width, shrink=[0, 2])
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= width
    assert all("completed" in line or "refused" in line for line in lines[2:])
    assert "…" in lines[2]  # the long row was cut
    assert lines[3].startswith("short ")


def test_wide_enough_terminal_cuts_nothing() -> None:
    assert format_table(HEADERS, ROWS, width=1000, shrink=[0, 2]) == format_table(HEADERS, ROWS)


def test_columns_keep_a_minimum_when_the_terminal_is_tiny() -> None:
    table = format_table(HEADERS, ROWS, width=20, shrink=[0, 2])
    first = table.splitlines()[2]
    assert first.startswith("supplier …")  # 10 characters: the floor of a shrunk column
    assert "completed" in first  # never shrunk


def test_terminal_width_follows_columns_and_ignores_pipes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "132")
    assert terminal_width() == 132
    monkeypatch.delenv("COLUMNS")
    assert terminal_width() is None  # pytest captures stdout: not a terminal


def test_plural() -> None:
    assert plural(1, "device alert") == "1 device alert"
    assert plural(0, "device alert") == "0 device alerts"
    assert plural(2, "target breach", "target breaches") == "2 target breaches"
    assert plural(1, "target breach", "target breaches") == "1 target breach"


@pytest.mark.parametrize("smets1", [False, True])
def test_timing_fields_add_up(smets1: bool) -> None:
    timing = ResponseTiming("r1", "4.1.1", Category.ON_DEMAND, smets1, 30.0)
    timing.start, timing.stop, timing.han = 10.0, 10.5, 0.4
    data = timing.as_dict()
    assert data["elapsed_s"] == 0.5
    assert data["han_s"] == 0.4
    assert data["excluded_han"] is not smets1
    assert data["measured_s"] == (0.5 if smets1 else pytest.approx(0.1))
