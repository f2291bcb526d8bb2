"""Stand-ins for `hil.scenario` and `hil.faults` for the plugin's wiring tests.

The plugin is written against the contracts in docs/pytest-plugin.md; these fakes
follow them (`load_scenarios(path)`, `run_scenario(scenario, lab, *, seed)`,
`FaultInjector(lab, *, seed)` with `inject`, `records`, `aclose`) so that the tests
here check the plugin (collection, fixture lifecycle, failure text, JUnit, xdist
namespaces) whatever the real modules do. The fakes are installed with
monkeypatch for one test; pytester's in-process runs see them.

A fake scenario file:

    scenarios:
      - name: reads
        steps:
          - {name: read, line: 4}
          - {name: balance, kind: assert, verdict: fail, line: 5, message: "..."}
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import hil.scenario
from hil.dcc.lab import Lab
from hil.files import FileFormatError
from hil.scenario.record import FaultRecord, ScenarioRecord, Stamp, StepRecord, Verdict


@dataclass
class FakeScenario:
    name: str
    file: str | None
    line: int | None
    lab: str | None
    parameters: dict[str, Any]
    tags: list[str]
    steps: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ScenarioCalls:
    """What the fake runner saw: (scenario name, lab name, link URL, dcc running, seed)."""

    runs: list[tuple[str, str, str, bool, int | None]] = field(default_factory=list)


def fake_load_scenarios(path: str | Path) -> list[FakeScenario]:
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        raise FileFormatError(str(path), 1, "scenarios", "missing: a list of scenarios")
    out = []
    for index, s in enumerate(data["scenarios"]):
        if "name" not in s:
            raise FileFormatError(str(path), 2 + index, f"scenarios[{index}].name", "missing")
        out.append(
            FakeScenario(
                name=s["name"],
                file=str(path),
                line=s.get("line", 2 + index),
                lab=s.get("lab", data.get("lab")),
                parameters={},
                tags=s.get("tags", []),
                steps=s.get("steps", []),
            )
        )
    return out


def _stamp(lab: Lab) -> Stamp:
    return Stamp(virtual=lab.clock.now().isoformat(), real=0.0)


@pytest.fixture
def fake_scenario(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScenarioCalls]:
    calls = ScenarioCalls()

    async def run_scenario(
        scenario: FakeScenario, lab: Lab, *, seed: int | None = None, on_event: Any = None
    ) -> ScenarioRecord:
        calls.runs.append((scenario.name, lab.spec.name, lab.link_url, lab.dcc is not None, seed))
        steps = [
            StepRecord(
                name=s["name"],
                kind=s.get("kind", "request"),
                line=s.get("line"),
                verdict=Verdict(s.get("verdict", "pass")),
                message=s.get("message", "ok"),
                started=_stamp(lab),
                ended=_stamp(lab),
            )
            for s in scenario.steps
        ]
        bad = [s.verdict for s in steps if s.verdict != Verdict.PASS]
        return ScenarioRecord(
            name=scenario.name,
            file=scenario.file,
            lab=lab.spec.name,
            seed=seed,
            parameters=scenario.parameters,
            verdict=bad[0] if bad else Verdict.PASS,
            started=_stamp(lab),
            ended=_stamp(lab),
            steps=steps,
        )

    monkeypatch.setattr(hil.scenario, "load_scenarios", fake_load_scenarios, raising=False)
    monkeypatch.setattr(hil.scenario, "run_scenario", run_scenario, raising=False)
    yield calls


#: ("lab started" | "lab stopped" | "faults closed", lab name), in order, for one test.
EVENTS: list[tuple[str, str]] = []


@pytest.fixture
def lab_events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every Lab.start/stop (and fake FaultInjector.aclose) while the test runs."""
    EVENTS.clear()
    start, stop = Lab.start, Lab.stop

    async def started(self: Lab) -> Any:
        EVENTS.append(("lab started", self.spec.name))
        return await start(self)

    async def stopped(self: Lab) -> None:
        EVENTS.append(("lab stopped", self.spec.name))
        await stop(self)

    monkeypatch.setattr(Lab, "start", started)
    monkeypatch.setattr(Lab, "stop", stopped)
    return EVENTS


class FakeFaultInjector:
    instances: list[FakeFaultInjector] = []

    def __init__(self, lab: Lab, *, seed: int = 0, on_record: Any = None) -> None:
        self.lab = lab
        self.seed = seed
        self.injected: list[dict[str, Any]] = []
        self.closed = False
        self._records: list[FaultRecord] = []
        FakeFaultInjector.instances.append(self)

    def inject(self, spec: dict[str, Any], *, name: str | None = None) -> int:
        assert not self.closed
        self.injected.append(dict(spec))
        now = Stamp(virtual=self.lab.clock.now().isoformat(), real=0.0)
        self._records.append(FaultRecord(name or spec["kind"], spec.get("target", "all"), now))
        return len(self.injected)

    @property
    def records(self) -> list[FaultRecord]:
        return list(self._records)

    async def aclose(self) -> None:
        self.closed = True
        EVENTS.append(("faults closed", self.lab.spec.name))


@pytest.fixture
def fake_faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeFaultInjector]]:
    module = types.ModuleType("hil.faults")
    module.FaultInjector = FakeFaultInjector  # type: ignore[attr-defined]
    FakeFaultInjector.instances = []
    monkeypatch.setitem(sys.modules, "hil.faults", module)
    yield FakeFaultInjector
