"""The conformance comparison and replay runner on messages built here (no reference data).

hil/conformance.py must fail on what it cannot compare, compare the whole header,
show both sides of a difference, and count a command without a reference
response as "no reference", not a match.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.gbcs import builder
from emulator.gbcs.asn1 import DerInteger, DerNull, DerSequence
from emulator.gbcs.dlms.datetime import DlmsDateTime
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import GbcsMessage, OtherInformation, decode_message
from emulator.gbcs.zcl.gbz import GbzComponent, GbzPayload, ZclFrame
from emulator.pki.folder import FolderKeyStore
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import RemotePartyRole, TestPki
from hil.cli import main
from hil.conformance import (
    REPLAY_SEED,
    Lab,
    compare_messages,
    compare_trees,
    export_keys,
    run_conformance,
)

ACB = Eui64("90-B3-D5-1F-30-00-00-02")
SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")
OTHER = Eui64("90-B3-D5-1F-30-03-00-00")
ESME = Eui64("00-DB-12-34-56-78-90-A0")
GSME = Eui64("00-DB-12-34-56-78-90-A1")


def _command(other: OtherInformation | None = None) -> GbcsMessage:
    return builder.command(0x0013, 0x514, ACB, ESME, DerNull(), other=other)


def _response(command: GbcsMessage, **changes: object) -> GbcsMessage:
    response = builder.response(command, DerSequence([DerInteger(0), DerSequence([])]))
    header = dataclasses.replace(response.header, **changes)  # type: ignore[arg-type]
    return decode_message(dataclasses.replace(response, header=header, signature=b"").encode())


def test_a_response_equal_to_the_reference_matches() -> None:
    command = _command(OtherInformation(0x0013, OTHER, 1000))
    ours = _response(command, other=OtherInformation(0x0013, OTHER, 1000))
    assert compare_messages(ours, ours, command) is None


def test_other_information_is_compared_and_both_sides_shown() -> None:
    command = _command(OtherInformation(0x0013, OTHER, 1000))
    reference = _response(command, other=OtherInformation(0x0013, OTHER, 1000))
    ours = _response(command)  # the message code only: the old device behaviour
    why = compare_messages(ours, reference, command)
    assert why == f"other-information: supplementary remote party None != {OTHER}"


def test_a_device_counter_for_an_unknown_party_is_compared_by_presence() -> None:
    command = _command(OtherInformation(0x0013, OTHER, 1000))
    reference = _response(command, other=OtherInformation(0x0013, OTHER, 1000, 2000))
    ours = _response(command, other=OtherInformation(0x0013, OTHER, 1000, 0x100000001))
    assert compare_messages(ours, reference, command) is None
    without = _response(command, other=OtherInformation(0x0013, OTHER, 1000))
    assert "supplementary originator counter present" in (
        compare_messages(without, reference, command) or ""
    )


def test_counter_and_date_time_shape_are_compared() -> None:
    command = _command()
    reference = _response(command)
    assert "counter" in (
        compare_messages(_response(command, originator_counter=7), reference, command) or ""
    )
    stamped = DlmsDateTime(2015, 1, 1, 0xFF, 0, 0, 0, 0, 0x8000, 0xFF)
    with_weekday = DlmsDateTime(2015, 1, 1, 4, 0, 0, 0, 0, 0, 0)
    why = compare_messages(
        _response(command, date_time=with_weekday),
        _response(command, date_time=stamped),
        command,
    )
    assert why is not None and why.startswith("date-time: shape")
    later = DlmsDateTime(2016, 2, 3, 0xFF, 4, 5, 6, 7, 0x8000, 0xFF)
    assert (
        compare_messages(
            _response(command, date_time=later), _response(command, date_time=stamped), command
        )
        is None
    )


def _gbz(command_id: int, control: int = 0x19) -> GbzPayload:
    frame = ZclFrame(control, 0, command_id, {"status": 0}, None, None, "x")
    return GbzPayload([GbzComponent(0x01, 0x0708, frame)])


def test_a_component_difference_names_what_differs_on_both_sides() -> None:
    assert compare_trees(_gbz(11, 0x08), _gbz(11, 0x00)) == (
        "component[0]: frame control 0x0008 != 0x0000"
    )
    assert compare_trees(_gbz(4), _gbz(11)) == "component[0]: command 0x0004 != 0x000B"


def test_what_cannot_be_compared_fails() -> None:
    class Unknown:
        pass

    assert compare_trees(Unknown(), Unknown()) == "cannot compare a Unknown payload"  # type: ignore[arg-type]


# -- the runner and the exported keys ----------------------------------------------------


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for the reference keystore: the RTDS lab's parties and devices."""
    folder = tmp_path_factory.mktemp("keystore")
    pki = TestPki("reference-stand-in")
    lab = Lab.load()
    roles = {
        "supplier": RemotePartyRole.SUPPLIER,
        "network_operator": RemotePartyRole.NETWORK_OPERATOR,
    }
    for role, eui in lab.anchors.items():
        if bytes(eui) not in pki.parties:
            pki.remote_party(
                eui, roles.get(role.value, RemotePartyRole.ACCESS_CONTROL_BROKER), role.value
            )
    for raw, kind in lab.devices.items():
        pki.device(Eui64(raw), kind)
    pki.export(folder)
    for raw in lab.devices:  # the reference keystore holds no device private key
        for usage in (KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_AGREEMENT):
            (folder / f"{Eui64(raw).compact}-{usage.value}.key").unlink()
    return folder


def test_a_command_without_reference_response_is_no_reference(
    keystore: Path, tmp_path: Path
) -> None:
    security = FolderKeyStore(keystore)
    from emulator.gbcs.security import MessageSecurity

    command = builder.command(0x0013, 0x514, SUPPLIER, GSME, DerNull())  # CS07
    protected = builder.protect(command, MessageSecurity(security, ACB), critical=False)
    folder = tmp_path / "8.9_CS07"
    folder.mkdir()
    (folder / "CS07_8.9_SUCCESS_COMMAND_GBCS.HEX").write_text(protected.encode().hex().upper())
    report = run_conformance(tmp_path, keystore).to_json()
    assert report["commands_total"] == 1
    assert report["commands_matched"] == 0
    assert report["commands_without_reference"] == 1
    assert report["mismatches"] == []
    assert report["use_cases_matched"] == 0


def test_exported_keys_hold_the_replay_signing_certificates(keystore: Path, tmp_path: Path) -> None:
    out = tmp_path / "keys"
    written = export_keys(keystore, out)
    replay = TestPki(REPLAY_SEED).device(ESME)
    exported = FolderKeyStore(out)
    ds = KeyUsage.DIGITAL_SIGNATURE
    assert exported.public_key(ESME, ds).public_numbers() == (
        replay.keys[ds].public_key().public_numbers()
    )
    ka = KeyUsage.KEY_AGREEMENT
    assert exported.public_key(ESME, ka).public_numbers() == (
        FolderKeyStore(keystore).public_key(ESME, ka).public_numbers()
    )
    assert exported.has_private_key(SUPPLIER, ka)
    assert {p.name for p in written} == {p.name for p in out.iterdir()}


def test_pki_export_writes_a_labs_users(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["pki", "export", str(tmp_path), "--lab", "hil/fixtures/labs/demo.yaml"]
    )
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    assert "90b3d51f30030000-ka.key" in names  # the lab's meter operator
    assert "90b3d51f30010010-ds.pem" in names  # its rival supplier
    assert "90b3d51f30040000-ka.pem" in names  # its Other User
