"""The shipped scenario files through pytest (with xdist) and through `smets-hil run`.

They start pytest and the CLI
as subprocesses, from the repository root, so the project's own pytest settings
(asyncio_mode=auto) apply as they do for a user typing the command.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from hil.dcc.lab import DEFAULT_LAB
from hil.fixtures import FIXTURES
from hil.pytest_plugin import is_scenario_file
from hil.scenario import load_scenarios, run_scenarios
from hil.scenario.record import RunRecord, Verdict

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = FIXTURES / "scenarios"
#: The first line of a scenario failure: `file:line: step 'name' (kind) fail|error: why`.
FAILURE = re.compile(r"^\S+\.ya?ml:\d+: step '.+' \(\w+\) (fail|error): .+")


def _scenario_files() -> list[Path]:
    files = sorted(p for p in SCENARIOS.rglob("*.y*ml") if is_scenario_file(p))
    assert files, f"no scenario files in {SCENARIOS}"
    return files


def _pytest(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SMETS_HIL_LAB"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _junit_cases(path: Path) -> dict[tuple[str, str], tuple[str, ET.Element]]:
    """(scenario file, scenario name) -> (verdict property, testcase element)."""
    cases = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") or "" for p in case.iter("property")}
        key = (str((ROOT / props["hil.file"]).resolve()), props["hil.scenario"])
        cases[key] = (props["hil.verdict"], case)
    return cases


async def test_pytest_n_2_over_the_scenarios_agrees_with_smets_hil_run(tmp_path: Path) -> None:
    files = _scenario_files()
    xml = tmp_path / "junit.xml"
    done = _pytest(
        "-n", "2", str(SCENARIOS), f"--junitxml={xml}", f"--hil-record={tmp_path / 'records'}"
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    cases = _junit_cases(xml)

    # the same files through the runner `smets-hil run` uses
    scenarios = [s for f in files for s in load_scenarios(f)]
    assert len(cases) == len(scenarios), sorted(cases)
    record: RunRecord = await run_scenarios(scenarios)
    expected = {(str((ROOT / str(s.file)).resolve()), s.name): s.verdict for s in record.scenarios}
    assert {k: Verdict(v) for k, (v, _) in cases.items()} == expected
    assert all(v == Verdict.PASS for v in expected.values())

    # and through the command itself: same exit status, same verdicts when it writes JSON
    cli = Path(sys.executable).with_name("smets-hil")
    command = [str(cli)] if cli.exists() else [sys.executable, "-m", "hil.cli"]
    helptext = subprocess.run([*command, "run", "--help"], capture_output=True, text=True)
    assert helptext.returncode == 0, helptext.stderr
    extra: list[str] = []
    out = tmp_path / "run.json"
    if "--json" in helptext.stdout:
        extra = ["--json", str(out)]
    ran = subprocess.run(
        [*command, "run", *map(str, files), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert ran.returncode == done.returncode, ran.stdout[-4000:] + ran.stderr[-2000:]
    if extra:
        cli_record = RunRecord.load(out)
        got = {
            (str((ROOT / str(s.file)).resolve()), s.name): s.verdict for s in cli_record.scenarios
        }
        assert got == expected


def test_a_failing_scenario_reads_as_its_step(tmp_path: Path) -> None:
    """On a lab whose ESME is registered to another supplier, the supplier's requests
    are refused: the scenarios that send them fail, each with `file:line: step`."""
    lab = tmp_path / "rival.yaml"
    lab.write_text(
        DEFAULT_LAB.read_text().replace(
            "import_supplier: supplier", "import_supplier: rival-supplier"
        )
    )
    xml = tmp_path / "junit.xml"
    done = _pytest(str(SCENARIOS), f"--hil-lab={lab}", f"--junitxml={xml}", "-p", "no:xdist")
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    found = (case.find("failure") for _, case in _junit_cases(xml).values())
    failures = [f for f in found if f is not None]  # an Element without children is falsy
    assert failures, "no scenario failed on a lab where the supplier supplies nothing"
    for failure in failures:
        text = (failure.text or failure.get("message") or "").strip()
        assert FAILURE.match(text.splitlines()[0]), text
        assert "Traceback" not in text and ".py:" not in text
    assert "Traceback" not in done.stdout
