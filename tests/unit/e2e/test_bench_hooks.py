"""Bench control of a device under test: reset, power-cycle and console hooks.

The hooks are shell commands in the lab file (a USB relay, a PDU, a serial
console reader on a bench); here they write to files and print lines, so what
ran, when, and what the console said can be checked in the record and reports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from board_support import Board, board_rack, external_lab

from hil.dcc.lab import Lab, LabFileError, LabSpec
from hil.report.junit import write_junit
from hil.scenario.model import parse_scenarios
from hil.scenario.record import RunRecord, Verdict
from hil.scenario.runner import run_scenario

CONSOLE = (
    'i=0; while true; do echo "console line $i from $SMETS_DEVICE"; i=$((i+1)); sleep 0.1; done'
)


@pytest.fixture
async def boards() -> AsyncIterator[Callable[[Path], Board]]:
    async with board_rack() as make:
        yield make


SCENARIO = {
    "name": "bench",
    "steps": [
        {"name": "read", "request": "4.1.1", "user": "supplier", "target": "ESME"},
        {"name": "cycle", "action": "power_cycle", "device": "ESME"},
        {"name": "press", "action": "press_button", "device": "ESME"},
        {"sleep": 0.5},
    ],
}


async def test_hooks_run_and_the_console_lands_in_the_record(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    board = boards(tmp_path / "unused.yaml")
    marks = tmp_path / "marks"
    hooks = {
        "reset": f"echo reset $SMETS_EUI >> {marks}",
        "power_cycle": f"echo power_cycle $SMETS_DEVICE >> {marks}",
        "console": CONSOLE,
    }
    lab_path = external_lab(tmp_path, board.port, hooks=hooks)
    board.lab = lab_path
    await board.start()
    lab = Lab.load(lab_path)
    await lab.start()
    try:
        assert marks.read_text() == "reset 00-DB-12-34-56-78-90-A0\n"  # before the lab connected
        (scenario,) = parse_scenarios(SCENARIO)
        record = await run_scenario(scenario, lab, interactive=False)
    finally:
        await lab.stop()
    steps = {s.name: s for s in record.steps}
    assert steps["read"].verdict == Verdict.PASS, steps["read"].message
    assert steps["cycle"].verdict == Verdict.PASS
    assert marks.read_text().splitlines()[-1] == "power_cycle ESME"
    assert steps["press"].verdict == Verdict.SKIP
    assert "ESME is external" in steps["press"].message
    console = [line for line in record.logs if line.source == "console.ESME"]
    assert console and all(line.text.endswith("from ESME") for line in console)
    run = RunRecord("smets-hil", "2026-01-05T09:00:00Z", [record])
    junit = tmp_path / "junit.xml"
    write_junit(run, junit)
    assert "console.ESME: console line" in junit.read_text()


async def test_a_failing_reset_hook_stops_the_lab_with_one_line(
    tmp_path: Path, boards: Callable[[Path], Board]
) -> None:
    lab = Lab.load(
        external_lab(tmp_path, "serial:///dev/null", hooks={"reset": "echo relay stuck; exit 3"})
    )
    with pytest.raises(
        Exception, match="ESME: reset hook 'echo relay stuck; exit 3' exited with 3: relay stuck"
    ):
        await lab.start()
    await lab.stop()


def _esme(data: dict[str, Any]) -> dict[str, Any]:
    return next(d for d in data["premises"][0]["devices"] if d["type"] == "ESME")


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"external": False}, "only an external device has its own link"),
        ({"link": None}, "an external device needs the link it is on"),
        (
            {"external": False, "link": None, "hooks": {"reset": "true"}},
            "bench hooks are for an external",
        ),
        ({"link": "nope://x"}, "unknown link scheme 'nope'"),
    ],
)
def test_lab_file_refuses_inconsistent_external_entries(
    tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    data = yaml.safe_load(external_lab(tmp_path, "serial:///dev/ttyUSB0").read_text())
    entry = _esme(data)
    for key, value in change.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    with pytest.raises(LabFileError, match=says):
        LabSpec.from_yaml(yaml.safe_dump(data), "lab.yaml")


def test_a_gpf_cannot_be_external(tmp_path: Path) -> None:
    data = yaml.safe_load(external_lab(tmp_path, "serial:///dev/ttyUSB0").read_text())
    gpf = next(d for d in data["premises"][0]["devices"] if d["type"] == "GPF")
    gpf.update(external=True, link="serial:///dev/ttyUSB1")
    with pytest.raises(LabFileError, match="a GPF cannot be external"):
        LabSpec.from_yaml(yaml.safe_dump(data), "lab.yaml")
