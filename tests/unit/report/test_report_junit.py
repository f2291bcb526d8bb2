"""JUnit XML: the shape Jenkins and GitLab read, with the failing step and its file:line."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from report_records import sample_run, stamp

from hil.report.junit import junit_xml, write_junit
from hil.scenario.record import RunRecord, ScenarioRecord, StepRecord, Verdict

# The common JUnit schema (Jenkins junit-10.xsd): allowed attributes and children, in order.
ATTRIBUTES = {
    "testsuites": {"name", "time", "tests", "failures", "disabled", "errors", "skipped"},
    "testsuite": {
        "name",
        "tests",
        "failures",
        "errors",
        "time",
        "disabled",
        "skipped",
        "timestamp",
        "hostname",
        "id",
        "package",
    },
    "testcase": {"name", "assertions", "time", "classname", "status"},
    "failure": {"type", "message"},
    "error": {"type", "message"},
    "skipped": {"message"},
    "properties": set(),
    "property": {"name", "value"},
    "system-out": set(),
    "system-err": set(),
}
REQUIRED = {"testsuite": {"name", "tests"}, "testcase": {"name"}, "property": {"name", "value"}}
CHILD_ORDER = {
    "testsuites": ["testsuite"],
    "testsuite": ["properties", "testcase", "system-out", "system-err"],
    "testcase": ["skipped", "error", "failure", "system-out", "system-err"],
    "properties": ["property"],
}
AT_MOST_ONE = {"testsuite": {"properties", "system-out", "system-err"}, "testcase": {"skipped"}}


def assert_valid(element: ET.Element) -> None:
    assert element.tag in ATTRIBUTES, element.tag
    assert set(element.attrib) <= ATTRIBUTES[element.tag], (element.tag, element.attrib)
    assert REQUIRED.get(element.tag, set()) <= set(element.attrib), element.tag
    children = [child.tag for child in element]
    order = CHILD_ORDER.get(element.tag, [])
    assert all(tag in order for tag in children), (element.tag, children)
    assert children == sorted(children, key=order.index), (element.tag, children)
    for tag in AT_MOST_ONE.get(element.tag, set()):
        assert children.count(tag) <= 1, (element.tag, tag)
    if element.tag == "properties":
        assert children, "properties needs at least one property"
    for child in element:
        assert_valid(child)


def test_one_suite_one_case_per_scenario_valid_for_the_common_schema(tmp_path: Path) -> None:
    write_junit(sample_run(), tmp_path / "junit.xml")
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert_valid(root)
    (suite,) = root.findall("testsuite")
    assert (
        suite.get("tests"),
        suite.get("failures"),
        suite.get("errors"),
        suite.get("skipped"),
    ) == ("3", "1", "1", "0")
    cases = suite.findall("testcase")
    assert [c.get("classname") for c in cases] == [
        "scenarios.prepayment",
        "scenarios.alerts",
        "scenarios",
    ]
    assert cases[0].get("name") == "prepayment over three days[amount=500]"
    assert cases[0].get("time") == "1.800"
    assert cases[0].find("failure") is None and cases[0].find("error") is None


def test_the_failure_names_the_failing_step_and_where_it_is() -> None:
    root = ET.fromstring(junit_xml(sample_run()))
    failing = root.find("testsuite/testcase[@name='alerts under a lossy link']")
    assert failing is not None
    failure = failing.find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "top up again: expected I0, got E50 (rejected by ESME) (scenarios/alerts.yaml:12)"
    )
    assert failure.get("type") == "request"
    assert "expect alert 0x8F66: no alert 0x8F66 within 60 s (scenarios/alerts.yaml:15)" in (
        failure.text or ""
    )
    errored = root.find("testsuite/testcase[@name='read firmware (python)']/error")
    assert errored is not None and "refused the connection" in (errored.get("message") or "")


def test_properties_and_the_step_log() -> None:
    root = ET.fromstring(junit_xml(sample_run()))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["prepayment over three days[amount=500]: seed"] == "7"
    assert props["prepayment over three days[amount=500]: lab"] == "labs/one-home.yaml"
    assert props["prepayment over three days[amount=500]: parameter.amount"] == "500"
    out = root.find("testsuite/testcase[@name='alerts under a lossy link']/system-out")
    assert out is not None and out.text is not None
    assert "seed: 11" in out.text
    assert (
        "SKIP" in out.text
        and "read balance: not run after a failure [scenarios/alerts.yaml:19]" in out.text
    )
    assert "ERROR ESME: top-up rejected: UTRN already used" in out.text


def test_control_characters_do_not_break_the_xml() -> None:
    at = stamp(0, 0.0)
    step = StepRecord("bad\x00step", "request", 1, Verdict.FAIL, "got \x1b[31m\x07 <&>", at, at)
    scenario = ScenarioRecord("s\x01", "x.yaml", "lab", 1, {}, Verdict.FAIL, at, at, steps=[step])
    root = ET.fromstring(junit_xml(RunRecord("t", "now", [scenario])))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "bad\\x00step: got \\x1b[31m\\x07 <&> (x.yaml:1)"


def test_a_skipped_scenario_is_skipped_with_its_reason() -> None:
    at = stamp(0, 0.0)
    step = StepRecord("prompt", "action", 2, Verdict.SKIP, "operator prompt in CI", at, at)
    scenario = ScenarioRecord(
        "manual", "m.yaml", "lab", None, {}, Verdict.SKIP, at, at, steps=[step]
    )
    root = ET.fromstring(junit_xml(RunRecord("t", "now", [scenario])))
    assert_valid(root)
    skipped = root.find("testsuite/testcase/skipped")
    assert skipped is not None and skipped.get("message") == "operator prompt in CI"
    assert root.find("testsuite").get("skipped") == "1"  # type: ignore[union-attr]
