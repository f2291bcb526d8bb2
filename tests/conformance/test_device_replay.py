"""Emulated devices against the reference messages: `hil.conformance.run_conformance`.

Every reference command is replayed to an emulated device configured as the
RTDS lab device; the response it computes must match the reference response:
the whole grouping header and every payload element (see hil/conformance.py).
The count matched is pinned exactly, and every remaining mismatch is listed with
its reason in docs/devices.md ("Known gaps"), so a regression cannot hide in slack.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.gbcs.frame import Cra, decode_message
from emulator.gbcs.payload import decode_message_payload, try_decrypt
from emulator.gbcs.security import MessageSecurity
from emulator.pki.folder import FolderKeyStore
from hil.cli import main
from hil.conformance import ConformanceReport, run_conformance
from hil.corpus import read_hex_file

#: Service references whose use cases must each have at least one success case matched.
REQUIRED_SERVICE_GROUPS = ("1", "2", "3", "4", "6", "7")
#: What `smets-hil conformance` matches today: raise it (and shorten the list in
#: docs/devices.md) when a fix matches more; a drop is a regression.
MATCHED = 354
WITHOUT_MATCHED_SUCCESS = 23
DEVICES_DOC = Path(__file__).resolve().parents[2] / "docs" / "devices.md"


@pytest.fixture(scope="module")
def report(rtds_root: Path, rtds_messages: Path) -> ConformanceReport:
    return run_conformance(rtds_messages, rtds_root / "keystore")


def test_the_matched_count_is_what_we_measured(report: ConformanceReport) -> None:
    summary = report.to_json()
    assert summary["commands_total"] >= 398, "the reference set looks incomplete"
    assert summary["commands_without_reference"] == 0
    mismatches = "\n".join(f"{m['file']}: {m['reason']}" for m in summary["mismatches"])
    assert summary["commands_matched"] == MATCHED, (
        f"{summary['commands_matched']} matched, expected {MATCHED}; mismatches:\n{mismatches}"
    )


def test_every_mismatch_is_listed_with_its_reason(report: ConformanceReport) -> None:
    """docs/devices.md names each case still mismatched (its file name before _COMMAND)."""
    text = DEVICES_DOC.read_text()
    listed = set(re.findall(r"`([A-Za-z0-9_.]+)`", text))
    missing = sorted(
        name
        for r in report.results
        if not r.matched
        for name in [Path(r.file).name.removesuffix("_COMMAND_GBCS.HEX")]
        if name not in listed
    )
    assert not missing, f"not listed in docs/devices.md Known gaps: {missing}"


def test_use_cases_of_the_main_services_without_a_matched_success(
    report: ConformanceReport,
) -> None:
    """Pinned like MATCHED: the use cases of groups 1-4, 6, 7 none of whose SUCCESS
    cases matches (each mismatch is listed in docs/devices.md)."""
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
    assert len(missing) == WITHOUT_MATCHED_SUCCESS, f"no SUCCESS command matched in: {missing}"


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


def test_every_dumped_message_checks_with_the_exported_keys(
    report: ConformanceReport, rtds_root: Path, rtds_messages: Path, tmp_path: Path
) -> None:
    """What a user gets from one command opens everything we emit: every MAC and
    signature verifies and every encrypted part decrypts with the exported keystore."""
    dump, keys = tmp_path / "responses", tmp_path / "keys"
    result = CliRunner().invoke(
        main,
        [
            "conformance",
            str(rtds_messages),
            "--keys",
            str(rtds_root / "keystore"),
            "--dump",
            str(dump),
            "--export-keys",
            str(keys),
            "--min-matched",
            str(MATCHED),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    security = MessageSecurity(FolderKeyStore(keys))
    counts = {"mac": 0, "signature": 0, "encrypted": 0}
    failures = []
    for path in sorted(dump.iterdir()):
        message = decode_message(read_hex_file(path))
        checked = security.verify(message)
        if checked.errors or not (checked.mac or checked.signature):
            failures.append(f"{path.name}: {checked.errors or 'nothing to verify'}")
        counts["mac"] += bool(checked.mac)
        counts["signature"] += bool(checked.signature)
        payload = decode_message_payload(message)
        why = try_decrypt(payload, security, message)
        if why or not payload.fully_decrypted:
            failures.append(f"{path.name}: encrypted part: {why}")
        counts["encrypted"] += payload.decrypted_parts
    assert not failures, "\n".join(failures)
    assert counts["mac"] + counts["signature"] == len(list(dump.iterdir()))
    assert counts["encrypted"] > 0
