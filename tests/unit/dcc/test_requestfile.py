"""Request files and lab files: parsing, clear errors, the `requests` command and the demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hil.cli import main
from hil.dcc.lab import DEFAULT_LAB, Lab, LabError, LabSpec
from hil.dcc.requestfile import (
    AdvanceItem,
    RequestFile,
    RequestFileError,
    RequestItem,
    parse_offset,
    run_file,
)

DEMO_REQUESTS = Path(__file__).resolve().parents[3] / "hil" / "fixtures" / "requests" / "demo.yaml"


def test_request_file_items_and_clock_steps() -> None:
    parsed = RequestFile.parse(
        {
            "requests": [
                {"name": "read", "variant": "4.1.1", "user": "supplier", "target": "ESME"},
                {"advance": "15m"},
                {
                    "variant": "7.1",
                    "user": "supplier",
                    "after": "read",
                    "expect": {"status": "failed"},
                },
            ]
        }
    )
    first, step, third = parsed.items
    assert isinstance(first, RequestItem) and first.name == "read"
    assert isinstance(step, AdvanceItem) and step.seconds == 900
    assert isinstance(third, RequestItem) and third.after == "read"
    assert third.expect == {"status": "failed"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, r"^f.yaml: requests: missing \(required\)$"),
        ({"requests": ["x"]}, r"^f.yaml: requests\[0\]: must be a mapping"),
        ({"requests": [{"variant": "4.1.1"}]}, r"^f.yaml: requests\[0\].user: missing"),
        ({"requests": [{"variant": "4.1.1", "user": "u", "colour": 1}]}, r"\.colour: unknown key"),
        ({"requests": [{"variant": "4.1.1", "user": "u", "after": "nope"}]}, "no request is named"),
        ({"requests": [{"advance": "soon"}]}, r"requests\[0\].advance: not a duration"),
    ],
)
def test_request_file_errors_name_the_item(data: object, message: str) -> None:
    with pytest.raises(RequestFileError, match=message):
        RequestFile.parse(data, "f.yaml")


def test_offsets() -> None:
    assert parse_offset("+2h") == 7200
    assert parse_offset("1d") == 86400
    assert parse_offset(30) == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "expected a mapping at the top"),
        ("premises: []", "at least one premises"),
        ("premises: [{devices: [{type: ESME, suffix: A0}]}]", "exactly one CHF"),
        (
            "users: {x: {roles: {Wizard: 90-B3-D5-1F-30-01-00-00}}}\npremises: []",
            "unknown user role",
        ),
        ("{", "^lab.yaml:1: not valid YAML"),
    ],
)
def test_lab_file_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(LabError, match=message):
        LabSpec.from_yaml(text, "lab.yaml")


def test_lab_refuses_a_shared_id_the_sec_forbids() -> None:
    text = DEFAULT_LAB.read_text().replace(
        "rival-supplier:\n    roles: {Import Supplier: 90-B3-D5-1F-30-01-00-10}",
        "rival-supplier:\n    roles: [Import Supplier, Export Supplier]\n"
        "    id: 90-B3-D5-1F-30-01-00-10",
    )
    assert text != DEFAULT_LAB.read_text()
    with pytest.raises(LabError, match=r"^lab:19: users.rival-supplier.id: .* cannot be shared"):
        LabSpec.from_yaml(text)


def test_unknown_device_alias_lists_the_known_ones() -> None:
    lab = Lab.load(DEFAULT_LAB)
    with pytest.raises(LabError, match=r"known: .*ESME"):
        lab.eui("toaster")


async def test_demo_request_file_meets_its_expectations() -> None:
    report = await run_file(DEMO_REQUESTS)
    assert report.ok, report.failed_expectations
    statuses = {r.request.label: r.status.value for r in report.results}
    assert statuses["DNO may not disconnect a customer"] == "refused"
    assert len(report.scheduled_runs) == 1
    data = report.as_dict()
    variants = {v["variant"]: v for v in data["response_times"]["variants"]}
    assert variants["4.1.1"]["count"] == 3
    assert {"count", "p50_s", "p95_s", "max_s", "breaches"} <= set(variants["4.1.1"])


def test_requests_command_prints_json_and_fails_on_a_broken_expectation(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["requests", str(DEMO_REQUESTS), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["expectations"]["ok"] is True
    assert {"requests", "scheduled_runs", "response_times", "alerts", "notifications"} <= set(data)
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        f"lab: {DEFAULT_LAB}\n"
        "requests:\n"
        "  - {variant: '7.2', user: dno, target: ESME, expect: {status: completed}}\n"
    )
    failed = CliRunner().invoke(main, ["requests", str(broken)])
    assert failed.exit_code == 1
    assert "ROLE_NOT_ELIGIBLE" in failed.output


def test_requests_command_reports_a_bad_file_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("requests: [{variant: '4.1.1'}]\n")
    result = CliRunner().invoke(main, ["requests", str(bad), "--lab", str(DEFAULT_LAB)])
    assert result.exit_code == 1
    assert f"{bad}:1: requests[0].user: missing (required)" in result.output
    assert "Traceback" not in result.output


def test_demo_shows_requests_and_refusals() -> None:
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "ROLE_NOT_ELIGIBLE" in result.output
    assert "completed" in result.output
    assert "embedded broker" in result.output


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("{variant: '4.1.1', user: ghost, target: ESME}", "unknown user 'ghost'"),
        ("{variant: '4.1.1', user: supplier, target: toaster}", "no device 'toaster'"),
        ("{variant: '4.1.1', user: supplier, role: Wizard}", "unknown user role"),
    ],
)
def test_names_are_checked_against_the_lab_before_anything_is_sent(
    tmp_path: Path, item: str, message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"lab: {DEFAULT_LAB}\nrequests:\n  - {item}\n")
    result = CliRunner().invoke(main, ["requests", str(bad)])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
