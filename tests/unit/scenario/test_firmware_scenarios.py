"""The firmware scenarios (hil/fixtures/scenarios/firmware/) pass: updates, activation
and each failure, with their versions, alerts and logs checked inside."""

from __future__ import annotations

from pathlib import Path

from hil.scenario import load_scenarios, run_scenarios
from hil.scenario.record import Verdict

FILE = Path(__file__).resolve().parents[3] / "hil/fixtures/scenarios/firmware/firmware.py"


async def test_every_firmware_scenario_passes() -> None:
    scenarios = load_scenarios(FILE)
    assert len(scenarios) == 10
    record = await run_scenarios(scenarios, seed=1, interactive=False)
    failed = {
        s.name: [step.message for step in s.steps if step.verdict != Verdict.PASS]
        for s in record.scenarios
        if s.verdict != Verdict.PASS
    }
    assert not failed, failed
    measured = {m.name for s in record.scenarios for m in s.measurements}
    assert "ESME blocks at offset 0 (never started over)" in measured
    assert "CS06 response code (2: hash mismatch)" in measured
