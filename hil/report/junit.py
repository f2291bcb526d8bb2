"""JUnit XML for CI servers: one testsuite per run, one testcase per scenario.

Written to the common schema Jenkins and GitLab read (the Jenkins `junit-10.xsd`
shape): testcases carry only name, classname and time, so the per-scenario
properties (seed, lab, parameters) sit in the suite's `<properties>` under the
scenario's name and are repeated at the top of the testcase's `<system-out>`.
Characters XML 1.0 cannot hold (control bytes in a decoded message) are
written as `\\xNN` rather than making the file unreadable.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from hil.report.common import (
    BAD,
    classname,
    failing_steps,
    failure_text,
    location,
    real_seconds,
)
from hil.scenario.record import RunRecord, ScenarioRecord, Verdict

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def write_junit(record: RunRecord, path: str | Path) -> None:
    Path(path).write_bytes(junit_xml(record))


def junit_xml(record: RunRecord) -> bytes:
    scenarios = record.scenarios
    counts = {
        "tests": str(len(scenarios)),
        "failures": str(sum(s.verdict == Verdict.FAIL for s in scenarios)),
        "errors": str(sum(s.verdict in (Verdict.ERROR, Verdict.UNSET) for s in scenarios)),
        "skipped": str(sum(s.verdict == Verdict.SKIP for s in scenarios)),
        "time": _seconds(sum(real_seconds(s) for s in scenarios)),
    }
    root = ET.Element("testsuites", {"name": _x(record.tool), **counts})
    suite = ET.SubElement(
        root, "testsuite", {"name": _x(record.tool), **counts, "timestamp": _x(record.started_at)}
    )
    properties = ET.SubElement(suite, "properties")
    _property(properties, "tool", record.tool)
    _property(properties, "record_version", str(record.version))
    for scenario in scenarios:
        for name, value in _scenario_properties(scenario):
            _property(properties, f"{scenario.name}: {name}", value)
    for scenario in scenarios:
        _testcase(suite, scenario)
    ET.indent(root, space=" ")
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _scenario_properties(scenario: ScenarioRecord) -> list[tuple[str, str]]:
    props = [
        ("seed", "" if scenario.seed is None else str(scenario.seed)),
        ("lab", scenario.lab),
        ("file", scenario.file or ""),
    ]
    props += [(f"parameter.{k}", str(v)) for k, v in scenario.parameters.items()]
    return props


def _testcase(suite: ET.Element, scenario: ScenarioRecord) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {
            "name": _x(scenario.name),
            "classname": _x(classname(scenario)),
            "time": _seconds(real_seconds(scenario)),
        },
    )
    bad = failing_steps(scenario)
    if scenario.verdict == Verdict.SKIP:
        skipped = [s for s in scenario.steps if s.verdict == Verdict.SKIP]
        reason = skipped[0].message if skipped else "scenario skipped"
        ET.SubElement(case, "skipped", {"message": _x(reason)})
    elif scenario.verdict in (Verdict.FAIL, Verdict.ERROR, Verdict.UNSET):
        tag = "failure" if scenario.verdict == Verdict.FAIL else "error"
        if bad:
            first = next((s for s in bad if s.verdict == scenario.verdict), bad[0])
            message = failure_text(scenario, first)
            kind = first.kind
        else:
            measured = [m for m in scenario.measurements if m.verdict in BAD]
            message = (
                f"measurement {measured[0].name} = {measured[0].value} not {measured[0].validator}"
                f" ({location(scenario)})"
                if measured
                else f"scenario verdict {scenario.verdict.value} ({location(scenario)})"
            )
            kind = "measurement" if measured else scenario.verdict.value
        element = ET.SubElement(case, tag, {"message": _x(message), "type": _x(kind)})
        element.text = _x(
            "\n".join(f"[{s.verdict.value}] {failure_text(scenario, s)}" for s in bad)
        )
    ET.SubElement(case, "system-out").text = _x(_step_log(scenario))


def _step_log(scenario: ScenarioRecord) -> str:
    lines = [f"{name}: {value}" for name, value in _scenario_properties(scenario)]
    lines.append("")
    for n, step in enumerate(scenario.steps, 1):
        took = step.ended.real - step.started.real
        lines.append(
            f"{n:3d} {step.verdict.value.upper():5s} {step.started.virtual}"
            f" (+{step.started.real:.3f}s,"
            f" {took:.3f}s) {step.kind} {step.name}: {step.message} [{location(scenario, step)}]"
        )
    if scenario.logs:
        lines += ["", "log:"]
        lines += [f"{log.at.virtual} {log.level} {log.source}: {log.text}" for log in scenario.logs]
    return "\n".join(lines) + "\n"


def _property(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "property", {"name": _x(name), "value": _x(value)})


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _x(text: str) -> str:
    """Text XML 1.0 can carry: each forbidden character becomes a visible \\xNN."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
