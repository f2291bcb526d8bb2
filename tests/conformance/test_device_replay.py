"""Emulated devices against the reference messages: `hil.conformance.run_conformance`.

Every reference command is replayed to an emulated device configured as the
RTDS lab device; the response it computes must match the reference response by
structure (see hil/conformance.py). The known mismatches are explained in
docs/devices.md ("Known gaps").
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.gbcs.frame import Cra, decode_message
from hil.cli import main
from hil.conformance import ConformanceReport, run_conformance
from hil.corpus import read_hex_file

#: Service references whose use cases must each have at least one success case matched.
REQUIRED_SERVICE_GROUPS = ("1", "2", "3", "4", "6", "7")
MIN_MATCHED = 0.90


@pytest.fixture(scope="module")
def report(rtds_root: Path, rtds_messages: Path) -> ConformanceReport:
    return run_conformance(rtds_messages, rtds_root / "keystore")


def test_most_commands_match(report: ConformanceReport) -> None:
    summary = report.to_json()
    assert summary["commands_total"] >= 300, "the reference set looks incomplete"
    ratio = summary["commands_matched"] / summary["commands_total"]
    mismatches = "\n".join(f"{m['file']}: {m['reason']}" for m in summary["mismatches"])
    assert ratio >= MIN_MATCHED, f"{ratio:.3f} matched; mismatches:\n{mismatches}"


def test_every_use_case_of_the_main_services_has_a_matched_success(
    report: ConformanceReport,
) -> None:
    matched: dict[str, bool] = defaultdict(bool)
    for result in report.results:
        service = result.use_case.split("_", 1)[0]
        if service.split(".", 1)[0] not in REQUIRED_SERVICE_GROUPS or "." not in service:
            continue
        name = Path(result.file).name
        is_success = "SUCCESS" in name
        matched[result.use_case] |= is_success and result.matched
    assert len(matched) >= 100, f"only {len(matched)} use-case folders in groups 1-4, 6, 7"
    missing = sorted(folder for folder, ok in matched.items() if not ok)
    assert not missing, f"no SUCCESS command matched in: {missing}"


def test_no_device_raised(report: ConformanceReport) -> None:
    raised = [
        f"{r.file}: {r.reason}" for r in report.results if r.reason.startswith("device raised")
    ]
    assert not raised, "\n".join(raised)


def test_every_command_got_a_response(report: ConformanceReport) -> None:
    """A response for every command except the HAN-only ones we cannot key (docs/devices.md)."""
    silent = sorted(Path(r.file).name for r in report.results if r.response is None)
    assert all(name.startswith(("PCS01_", "PCS02_")) for name in silent), silent


def test_dump_writes_one_decodable_response_per_command(
    report: ConformanceReport, rtds_root: Path, rtds_messages: Path, tmp_path: Path
) -> None:
    dump = tmp_path / "responses"
    result = CliRunner().invoke(
        main,
        [
            "conformance",
            str(rtds_messages),
            "--keys",
            str(rtds_root / "keystore"),
            "--dump",
            str(dump),
            "--json",
        ],
    )
    summary = json.loads(result.stdout)
    assert result.exit_code == (1 if summary["mismatches"] else 0), result.output
    assert summary["commands_total"] == len(report.results)
    assert summary["commands_matched"] == report.to_json()["commands_matched"]
    expected = {
        Path(r.file).name.replace("_COMMAND_", "_RESPONSE_")
        for r in report.results
        if r.response is not None
    }
    written = {p.name for p in dump.iterdir()}
    assert written == expected
    assert all(name.endswith(".HEX") for name in written)
    commands = {
        Path(r.file).name.replace("_COMMAND_", "_RESPONSE_"): rtds_messages / r.file
        for r in report.results
    }
    for name in sorted(written):
        response = decode_message(read_hex_file(dump / name))
        command = decode_message(read_hex_file(commands[name]))
        assert response.cra == Cra.RESPONSE, name
        assert response.counter == command.counter, name
        assert response.message_code == command.message_code, name
        assert (response.originator, response.recipient) == (command.recipient, command.originator)
