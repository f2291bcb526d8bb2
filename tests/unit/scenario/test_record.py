"""The test record survives JSON: a report rebuilt from a saved record is the same report."""

from __future__ import annotations

from pathlib import Path

from hil.scenario.record import (
    FaultRecord,
    LogLine,
    Measurement,
    MessageRecord,
    ResponseTimeRecord,
    RunRecord,
    ScenarioRecord,
    Stamp,
    StepRecord,
    Verdict,
)


def _record() -> RunRecord:
    t0, t1 = Stamp("2026-01-05T09:00:00+00:00", 0.0), Stamp("2026-01-05T09:00:01+00:00", 0.01)
    scenario = ScenarioRecord(
        name="read",
        file="read.yaml",
        lab="demo.yaml",
        seed=7,
        parameters={"variant": "4.1.1"},
        verdict=Verdict.FAIL,
        started=t0,
        ended=t1,
        steps=[StepRecord("read", "request", 3, Verdict.FAIL, "timed out", t0, t1, {"n": 1})],
        messages=[MessageRecord(t0, "DCC", "ESME", "command", "4.1.1 ECS17b", hex="dd00")],
        measurements=[Measurement("balance", 10.0, "GBP", "in_range(0, 20)", Verdict.PASS, t1)],
        faults=[FaultRecord("drop 10%", "memory://lab", t0, None, {"dropped": 2})],
        logs=[LogLine(t1, "WARNING", "hub", "dropped")],
        response_times=[ResponseTimeRecord("4.1.1", 0.1, 30.0, True)],
        series={"ESME.meter.balance": [("2026-01-05T09:00:00+00:00", 10.0)]},
        series_units={"ESME.meter.balance": "GBP"},
    )
    return RunRecord("smets-hil 0.1.0", "2026-12-02T00:00:00+00:00", [scenario])


def test_a_record_round_trips_through_json(tmp_path: Path) -> None:
    record = _record()
    record.dump(tmp_path / "r.json")
    again = RunRecord.load(tmp_path / "r.json")
    assert again == record
    assert not again.passed
