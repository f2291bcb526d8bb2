"""The test record: one per scenario run, the single source every output is written from.

OpenHTF's lesson: the runner writes one serialisable record (every step,
message, alert, measurement, fault and log line, each with its virtual and real
time), and the terminal summary, JUnit, JSON and HTML are all views of it. No
writer asks the lab anything; a report can be rebuilt from a saved JSON record.

Times: `virtual` is the lab clock's ISO 8601 UTC reading (what the devices
saw), `real` is seconds since the run started (what the tester waited).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

RECORD_VERSION = 1


class Verdict(StrEnum):
    """Outcome of a step, a measurement or a scenario (OpenHTF's PASS/FAIL/...)."""

    PASS = "pass"
    FAIL = "fail"  # what was checked did not hold
    ERROR = "error"  # the step could not run (bad lab state, link down, timeout)
    SKIP = "skip"  # not run: an operator prompt in CI, a state assertion on an external device
    UNSET = "unset"  # not decided yet (a measurement without a validator)


@dataclass(slots=True)
class Stamp:
    virtual: str  # ISO 8601 UTC, the lab clock
    real: float  # seconds since the run started


@dataclass(slots=True)
class StepRecord:
    name: str
    kind: str  # "request", "raw", "action", "expect", "advance", "assert", "measure", "fault", ...
    line: int | None  # line in the scenario file (None for Python scenarios)
    verdict: Verdict
    message: str  # why it failed, or a one-line summary of what it did
    started: Stamp
    ended: Stamp
    detail: dict[str, Any] = field(default_factory=dict)  # step-specific, JSON-ready


@dataclass(slots=True)
class MessageRecord:
    """One thing on the wire or across the DCC boundary, for the sequence diagram."""

    at: Stamp
    source: str  # a lane: "User", "DCC", "Hub", or a device name ("ESME", "1 Lab Street/GSME")
    target: str
    kind: str  # "service_request", "command", "response", "alert", "dcc_alert", "service_response"
    label: str  # short text on the arrow: "4.1.1 ECS17b", "0x8F66 alert"
    step: str | None = None  # the step it belongs to
    variant: str | None = None
    message_code: int | None = None
    ok: bool | None = None
    hex: str | None = None  # the GBCS bytes, when there are any
    decoded: str | None = None  # the decoded tree as text (what a click on the arrow shows)


#: Series a prepayment scenario records for each meter (hil.scenario.runner) and the
#: report plots apart: "<meter> balance (prepayment)", "... debt ...", "... supply ...".
PREPAYMENT_SUFFIX = " (prepayment)"
PREPAYMENT_QUANTITIES = ("balance", "debt", "supply")


def prepayment_series(device: str, what: str) -> str:
    """The series name of a meter's `balance`, `debt` or `supply` level."""
    return f"{device} {what}{PREPAYMENT_SUFFIX}"


@dataclass(slots=True)
class Measurement:
    name: str
    value: Any
    unit: str | None
    validator: str | None  # "in_range(0, 100)", "equals(5)", ...
    verdict: Verdict
    at: Stamp
    step: str | None = None


@dataclass(slots=True)
class FaultRecord:
    name: str  # "drop 10%", "link down 30s", "bad MAC"
    target: str  # link URL, device name or message kind it applies to
    started: Stamp
    ended: Stamp | None = None  # None while active (or never cleared)
    detail: dict[str, Any] = field(default_factory=dict)  # counters: dropped, corrupted, ...


@dataclass(slots=True)
class LogLine:
    at: Stamp
    level: str  # "DEBUG", "INFO", "WARNING", "ERROR"
    source: str  # logger name or device name
    text: str


@dataclass(slots=True)
class ResponseTimeRecord:
    variant: str
    measured_s: float
    target_s: float | None
    ok: bool
    smets1: bool = False  # a SMETS1 device: the SMETS1 target, HAN time counted


@dataclass(slots=True)
class ScenarioRecord:
    name: str
    file: str | None  # scenario file (None for Python scenarios)
    lab: str
    seed: int | None
    parameters: dict[str, Any]  # one cell of a parametrised matrix, {} otherwise
    verdict: Verdict
    started: Stamp
    ended: Stamp
    steps: list[StepRecord] = field(default_factory=list)
    messages: list[MessageRecord] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)
    response_times: list[ResponseTimeRecord] = field(default_factory=list)
    #: Values over virtual time for plots: {"ESME.meter.balance": [[iso_time, value], ...]}
    series: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    #: Units of the series: {"ESME.meter.balance": "GBP"}
    series_units: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict in (Verdict.PASS, Verdict.SKIP)


@dataclass(slots=True)
class RunRecord:
    """What one `smets-hil run` (or one pytest session) produced."""

    tool: str  # "smets-hil 0.1.0"
    started_at: str  # wall clock, ISO 8601 UTC
    scenarios: list[ScenarioRecord] = field(default_factory=list)
    version: int = RECORD_VERSION

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.scenarios)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def dump(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1, default=str) + "\n")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        return cls(
            tool=data["tool"],
            started_at=data["started_at"],
            scenarios=[_scenario(s) for s in data["scenarios"]],
            version=data.get("version", RECORD_VERSION),
        )

    @classmethod
    def load(cls, path: str | Path) -> RunRecord:
        return cls.from_json(json.loads(Path(path).read_text()))


def _stamp(d: dict[str, Any]) -> Stamp:
    return Stamp(virtual=d["virtual"], real=float(d["real"]))


def _scenario(d: dict[str, Any]) -> ScenarioRecord:
    return ScenarioRecord(
        name=d["name"],
        file=d["file"],
        lab=d["lab"],
        seed=d["seed"],
        parameters=d["parameters"],
        verdict=Verdict(d["verdict"]),
        started=_stamp(d["started"]),
        ended=_stamp(d["ended"]),
        steps=[
            StepRecord(
                **{
                    **s,
                    "verdict": Verdict(s["verdict"]),
                    "started": _stamp(s["started"]),
                    "ended": _stamp(s["ended"]),
                }
            )
            for s in d["steps"]
        ],
        messages=[MessageRecord(**{**m, "at": _stamp(m["at"])}) for m in d["messages"]],
        measurements=[
            Measurement(**{**m, "at": _stamp(m["at"]), "verdict": Verdict(m["verdict"])})
            for m in d["measurements"]
        ],
        faults=[
            FaultRecord(
                **{
                    **f,
                    "started": _stamp(f["started"]),
                    "ended": None if f["ended"] is None else _stamp(f["ended"]),
                }
            )
            for f in d["faults"]
        ],
        logs=[LogLine(**{**line, "at": _stamp(line["at"])}) for line in d["logs"]],
        response_times=[ResponseTimeRecord(**r) for r in d["response_times"]],
        series={k: [(t, float(v)) for t, v in pts] for k, pts in d["series"].items()},
        series_units=dict(d["series_units"]),
    )
