"""Scenario files collected as pytest items, with the fake runner of conftest.py.

What is checked is the plugin: which files are collected, one item per
scenario, a fresh started lab per item, the failure text taken from the record,
the record JSON, and the JUnit properties.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import hil.scenario
from hil.dcc.lab import DEFAULT_LAB
from hil.pytest_plugin import is_scenario_file
from hil.scenario.record import RunRecord, Verdict

if TYPE_CHECKING:  # the fakes' conftest (tests/unit has a conftest of its own)
    from conftest import ScenarioCalls

pytest_plugins = ["pytester"]

INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"

PASSING = """\
# two scenarios, both pass
scenarios:
  - name: reads
    steps:
      - {name: read registers, line: 5}
  - name: tops up
    tags: [prepayment]
    steps:
      - {name: add credit, line: 9}
"""

FAILING = """\
scenarios:
  - name: balance after top-up
    line: 2
    steps:
      - {name: add credit, line: 5}
      - {name: balance is 5 GBP, kind: assert, verdict: fail, line: 7,
         message: "ESME.meter.balance: expected 5.00 GBP, got 3.20 GBP"}
      - {name: not reached, line: 9, verdict: skip}
"""

REQUESTS = """\
lab: demo.yaml
requests:
  - {name: read, variant: "4.1.1", user: supplier, target: ESME}
"""


def _write(pytester: pytest.Pytester, files: dict[str, str]) -> None:
    pytester.makeini(INI)
    for name, text in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_collects_scenario_files_only(pytester: pytest.Pytester, fake_scenario: object) -> None:
    _write(
        pytester,
        {
            "scenarios/top_up.yaml": PASSING,
            "scenarios/single.yml": "name: one\nsteps: []\n",  # steps: key, not the fake format
            "scenarios/named.scenario.yaml": "scenarios:\n  - {name: by name}\n",
            "scenarios/lab.yaml": DEFAULT_LAB.read_text(),
            "scenarios/requests.yaml": REQUESTS,
            "scenarios/notes.txt": "scenarios:\n",
            "scenarios/nested-key.yaml": "x:\n  scenarios: []\n",
        },
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q", "scenarios")
    lines = result.stdout.str()
    assert "scenarios/top_up.yaml::reads" in lines
    assert "scenarios/top_up.yaml::tops up" in lines
    assert "scenarios/named.scenario.yaml::by name" in lines
    for name in ("lab.yaml", "requests.yaml", "notes.txt", "nested-key.yaml"):
        assert name not in lines
    # single.yml is a scenario file by its `steps:` key; the (fake) loader rejects it
    # with a one-line collection error naming the file and line
    result.stdout.fnmatch_lines(["*single.yml:1: scenarios: missing: a list of scenarios*"])
    assert "Traceback" not in lines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scenario: top-up\nsteps: []\n", True),
        ("scenarios:\n  - name: a\n", True),
        ("name: x\nsteps:\n  - advance: 1h\n", True),
        ("lab: demo.yaml\nrequests: []\n", False),
        ("name: demo lab\npremises: []\n", False),
        ("a:\n  steps: []\n", False),
        ("# scenarios: in a comment\nname: x\n", False),
    ],
)
def test_scenario_file_rule(tmp_path: Path, text: str, expected: bool) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    assert is_scenario_file(path) is expected
    other = tmp_path / "f.json"
    other.write_text(text)
    assert not is_scenario_file(other)


def test_each_scenario_runs_on_a_fresh_started_lab(
    pytester: pytest.Pytester, fake_scenario: ScenarioCalls, lab_events: list[tuple[str, str]]
) -> None:
    _write(pytester, {"top_up.yaml": PASSING})
    result = pytester.runpytest("-p", "no:cacheprovider", "--hil-seed=7", "-m", "prepayment")
    result.assert_outcomes(passed=1, deselected=1)  # scenario tags are pytest markers
    assert fake_scenario.runs == [("tops up", "demo lab", "memory://demo-lab", True, 7)]
    assert [e for e, _ in lab_events] == ["lab started", "lab stopped"]


def test_a_failing_scenario_reads_as_the_failing_step(
    pytester: pytest.Pytester, fake_scenario: ScenarioCalls, lab_events: list[tuple[str, str]]
) -> None:
    _write(pytester, {"balance.yaml": FAILING})
    result = pytester.runpytest("-p", "no:cacheprovider", "-rN")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*_ scenario: balance after top-up _*",
            "balance.yaml:7: step 'balance is 5 GBP' (assert) fail: "
            "ESME.meter.balance: expected 5.00 GBP, got 3.20 GBP",
            "  lab: demo lab, seed: default",
        ]
    )
    assert "Traceback" not in out and "pytest_plugin.py" not in out and "raise " not in out
    assert [e for e, _ in lab_events] == ["lab started", "lab stopped"]


def test_a_lab_that_cannot_load_is_one_line(
    pytester: pytest.Pytester, fake_scenario: ScenarioCalls
) -> None:
    _write(
        pytester,
        {
            "broken-lab.yaml": "name: x\npremises: []\n",
            "s.yaml": "lab: broken-lab.yaml\n" + PASSING,
        },
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "s.yaml")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*s.yaml: LabFileError: *broken-lab.yaml:2: premises: *"])
    assert "Traceback" not in result.stdout.str()
    assert fake_scenario.runs == []


def test_record_json_and_junit_properties(
    pytester: pytest.Pytester, fake_scenario: ScenarioCalls
) -> None:
    _write(pytester, {"top_up.yaml": PASSING, "balance.yaml": FAILING})
    records = pytester.path / "records"
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest(
        "-p", "no:cacheprovider", f"--hil-record={records}", f"--junitxml={xml}", "--hil-seed=3"
    )
    result.assert_outcomes(passed=2, failed=1)
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite is not None
    suite_props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert suite_props["hil.seed"] == "3"
    assert suite_props["hil.lab"] == "per scenario"
    assert suite_props["hil.record_dir"] == str(records)
    assert suite_props["hil.tool"].startswith("smets-hil")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"reads", "tops up", "balance after top-up"}
    props = {
        name: {p.get("name"): p.get("value") for p in case.iter("property")}
        for name, case in cases.items()
    }
    failed = props["balance after top-up"]
    assert failed["hil.verdict"] == "fail"
    assert failed["hil.failed_step"] == "balance is 5 GBP (line 7)"
    assert failed["hil.lab"] == "demo lab"
    assert failed["hil.seed"] == "3"
    assert props["reads"]["hil.verdict"] == "pass"
    failure = cases["balance after top-up"].find("failure")
    assert failure is not None and "balance.yaml:7: step 'balance is 5 GBP'" in (
        failure.get("message", "") + (failure.text or "")
    )
    # every scenario's record is a RunRecord JSON file named in its JUnit properties
    for name, p in props.items():
        record = RunRecord.load(p["hil.record"])
        [scenario] = record.scenarios
        assert scenario.name == name
        assert scenario.verdict == Verdict(p["hil.verdict"])
    assert len(list(records.glob("*.json"))) == 3
    assert json.loads(Path(failed["hil.record"]).read_text())["scenarios"][0]["seed"] == 3


def test_a_scenario_module_without_the_runner_is_a_collection_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(hil.scenario, "load_scenarios", raising=False)
    _write(pytester, {"top_up.yaml": PASSING})
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*hil.scenario has no load_scenarios*in this version*"])


def test_scenarios_run_under_xdist_in_the_workers_namespace(
    pytester: pytest.Pytester, fake_scenario: ScenarioCalls
) -> None:
    """The fake runner does not reach a subprocess: the plugin's own wiring is checked
    by making the scenario step read the lab's link through a conftest runner."""
    _write(pytester, {"top_up.yaml": PASSING})
    pytester.makeconftest(
        """
        import os
        import hil.scenario
        from conftest_fakes import fake_load_scenarios, make_runner

        hil.scenario.load_scenarios = fake_load_scenarios
        hil.scenario.run_scenario = make_runner()
        """
    )
    fakes = Path(__file__).with_name("conftest.py").read_text()
    pytester.makepyfile(conftest_fakes=fakes + _RUNNER)
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", f"--junitxml={xml}", "--dist=each", timeout=120
    )
    result.assert_outcomes(passed=4)
    text = xml.read_text()
    for worker in ("gw0", "gw1"):
        assert f'name="hil.lab" value="demo lab-{worker}"' in text


_RUNNER = """

def make_runner():
    async def run_scenario(scenario, lab, *, seed=None, on_event=None):
        assert lab.link_url == "memory://demo-lab-" + os.environ["PYTEST_XDIST_WORKER"]
        now = Stamp(virtual=lab.clock.now().isoformat(), real=0.0)
        return ScenarioRecord(
            name=scenario.name, file=scenario.file, lab=lab.spec.name, seed=seed,
            parameters={}, verdict=Verdict.PASS, started=now, ended=now,
        )
    return run_scenario

import os
"""
