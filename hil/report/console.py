"""The terminal summary of a run: one line per scenario, then what failed and where."""

from __future__ import annotations

import textwrap

from hil.report.common import (
    failing_steps,
    failure_text,
    format_duration,
    real_seconds,
    step_counts,
    virtual_seconds,
)
from hil.report.table import format_table, plural
from hil.scenario.record import RunRecord, Verdict


def summary_text(record: RunRecord, width: int | None = None) -> str:
    """What a tester reads after a run; `width` cuts scenario names and wraps messages."""
    rows = []
    for scenario in record.scenarios:
        passed, bad, _ = step_counts(scenario)
        rows.append(
            [
                scenario.verdict.value.upper(),
                scenario.name,
                f"{passed}/{len(scenario.steps)} passed" + (f", {bad} failed" if bad else ""),
                format_duration(virtual_seconds(scenario)),
                format_duration(real_seconds(scenario)),
            ]
        )
    headers = ["verdict", "scenario", "steps", "virtual", "real"]
    lines = [format_table(headers, rows, width=width, shrink=[1])] if rows else []
    failures = _failures(record, width)
    if failures:
        lines += ["", "Failures:", *failures]
    counts = [
        f"{n} {v.value}" for v in Verdict if (n := sum(s.verdict == v for s in record.scenarios))
    ]
    status = "PASSED" if record.passed else "FAILED"
    ran = plural(len(record.scenarios), "scenario")
    lines += ["", f"{status}: {ran} ({', '.join(counts) or 'none run'})"]
    return "\n".join(lines)


def _failures(record: RunRecord, width: int | None) -> list[str]:
    out: list[str] = []
    for scenario in record.scenarios:
        if scenario.passed:
            continue
        steps = failing_steps(scenario)
        texts = [f"[{s.verdict.value}] {failure_text(scenario, s)}" for s in steps]
        if not texts:  # failed on a measurement or at the end, not in a step
            bad = [m for m in scenario.measurements if m.verdict in (Verdict.FAIL, Verdict.ERROR)]
            texts = [
                f"[measurement] {m.name} = {m.value} {m.unit or ''} not {m.validator}" for m in bad
            ]
            texts = texts or [f"[{scenario.verdict.value}] scenario did not pass"]
        out.append(f"  {scenario.name}")
        for text in texts:
            out.extend(_wrap(text, width, "    ", "      "))
    return out


def _wrap(text: str, width: int | None, first: str, rest: str) -> list[str]:
    text = " ".join(text.split())
    if width is None or width <= len(first) + 10:
        return [first + text]
    return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest) or [first]
