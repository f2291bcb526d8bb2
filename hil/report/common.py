"""Small helpers every report view shares: times, durations, where a step is."""

from __future__ import annotations

import datetime as _dt
from pathlib import PurePath

from hil.scenario.record import ScenarioRecord, StepRecord, Verdict

#: Verdicts that make a scenario (or step) count as not passed.
BAD = (Verdict.FAIL, Verdict.ERROR)


def parse_time(text: str) -> _dt.datetime | None:
    """A record's virtual time as an aware datetime; None for text that is not ISO 8601."""
    try:
        moment = _dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


def virtual_seconds(scenario: ScenarioRecord) -> float | None:
    """How much lab time the scenario covered; None when a stamp cannot be read."""
    start, end = parse_time(scenario.started.virtual), parse_time(scenario.ended.virtual)
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def real_seconds(scenario: ScenarioRecord) -> float:
    return max(0.0, scenario.ended.real - scenario.started.real)


def format_duration(seconds: float | None) -> str:
    """Short and exact enough for people: 0.42 s, 12.3 s, 4m 05s, 2h 03m, 3d 00h 00m."""
    if seconds is None:
        return "?"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def step_counts(scenario: ScenarioRecord) -> tuple[int, int, int]:
    """(passed, failed or errored, skipped) steps."""
    passed = sum(1 for s in scenario.steps if s.verdict == Verdict.PASS)
    bad = sum(1 for s in scenario.steps if s.verdict in BAD)
    skipped = sum(1 for s in scenario.steps if s.verdict == Verdict.SKIP)
    return passed, bad, skipped


def failing_steps(scenario: ScenarioRecord) -> list[StepRecord]:
    return [s for s in scenario.steps if s.verdict in BAD]


def location(scenario: ScenarioRecord, step: StepRecord | None = None) -> str:
    """`file:line` of a step (or of the scenario file); the scenario name for Python scenarios."""
    where = scenario.file or scenario.name
    line = step.line if step is not None else None
    return f"{where}:{line}" if line is not None else where


def failure_text(scenario: ScenarioRecord, step: StepRecord) -> str:
    """One line: the step's message and where it is, the form every view uses."""
    return f"{step.name}: {step.message} ({location(scenario, step)})"


def classname(scenario: ScenarioRecord) -> str:
    """A JUnit class name from the scenario file: scenarios/top_up.yaml -> scenarios.top_up."""
    if not scenario.file:
        return "scenarios"
    path = PurePath(scenario.file.replace("\\", "/"))
    parts = [p for p in path.with_suffix("").parts if p not in ("/", ".", "..")]
    return ".".join(parts) or "scenarios"
