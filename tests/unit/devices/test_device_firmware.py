"""CS06 with the OTA Upgrade Image held: hash, hardware and supplier signature are checked."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from devices_support import Lab, build_lab, der, der_command, send

from emulator.devices.anchors import AnchorRole
from emulator.devices.base import Device
from emulator.devices.credentials import (
    FIRMWARE_VERIFICATION_FAILED,
    FIRMWARE_VERSION_CHANGED,
)
from emulator.gbcs import ota
from emulator.gbcs.asn1 import Der, DerConstructed, DerInteger, DerOctetString, DerSequence
from emulator.gbcs.crypto import sign
from emulator.pki.keystore import KeyUsage

CS06 = 0x0012
IMAGES = Path(__file__).resolve().parents[3] / "firmware_images"
MANIFEST = json.loads((IMAGES / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def lab() -> Lab:
    return build_lab()


def _hold(device: Device, name: str) -> bytes:
    """What 11.1 does in the lab: the device holds the OTA file; returns the image hash
    the supplier knows (from the manifest, i.e. of the image before any corruption)."""
    data = (IMAGES / name).read_bytes()
    digest = bytes.fromhex(MANIFEST[name]["manufacturer_image_hash"])
    device.pending_image_hash, device.pending_image_version = digest, MANIFEST[name]["file_version"]
    device.held_image = data
    return digest


def _activate(lab: Lab, digest: bytes) -> tuple[int, str]:
    command = der_command(
        lab.supplier,
        lab.esme,
        CS06,
        DerSequence([DerOctetString(digest), DerInteger(1)]),
        critical=True,
    )
    outcome: Der = der(send(lab.esme, command))
    assert isinstance(outcome, DerConstructed)
    code, version = outcome.items
    assert isinstance(code, DerInteger) and isinstance(version, DerOctetString)
    return code.value, version.value.hex().upper()


def test_good_image_activates_and_the_new_version_is_reported(lab: Lab) -> None:
    esme = lab.esme
    digest = _hold(esme, "esme.ota")
    assert _activate(lab, digest) == (0, "01000001")
    assert esme.firmware_version == "01000001"
    assert esme.running_image == (IMAGES / "esme.ota").read_bytes()
    assert esme.held_image is None
    assert FIRMWARE_VERSION_CHANGED in esme.event_log.codes()
    # nothing is held any more
    assert _activate(lab, digest) == (1, "01000001")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("esme-corrupted.ota", 2),  # hash recomputed over the held bytes: mismatch
        ("esme-bad-signature.ota", 3),  # activation failure
        ("esme-wrong-hardware.ota", 3),
    ],
)
def test_bad_image_is_refused_and_the_old_firmware_keeps_running(
    lab: Lab, name: str, code: int
) -> None:
    esme = lab.esme
    digest = _hold(esme, name)
    before = len(esme.event_log)
    assert _activate(lab, digest) == (code, "01000000")
    assert esme.firmware_version == "01000000"
    assert esme.running_image is None
    assert esme.held_image is not None  # kept: nothing was activated
    entries = list(esme.event_log)[before:]
    assert [e.code for e in entries] == [FIRMWARE_VERIFICATION_FAILED]
    # the device keeps serving: a good image afterwards still activates
    good = _hold(esme, "esme.ota")
    assert _activate(lab, good) == (0, "01000001")


def test_unknown_hash_is_a_hash_mismatch(lab: Lab) -> None:
    esme = lab.esme
    _hold(esme, "esme.ota")
    assert _activate(lab, hashlib.sha256(b"another image").digest()) == (2, "01000000")
    assert esme.firmware_version == "01000000"


def test_failed_activation_keeps_the_previous_running_image(lab: Lab) -> None:
    esme = lab.esme
    assert _activate(lab, _hold(esme, "esme.ota"))[0] == 0
    running = esme.running_image
    assert _activate(lab, _hold(esme, "esme-bad-signature.ota"))[0] == 3
    assert esme.running_image == running and esme.firmware_version == "01000001"


def test_image_signed_by_another_party_is_refused(lab: Lab) -> None:
    """A good image's manufacturer image re-signed with the network operator's key."""
    esme = lab.esme
    good = ota.decode_image((IMAGES / "esme.ota").read_bytes())
    operator = lab.premises.parties[AnchorRole.NETWORK_OPERATOR]
    key = operator.keys[KeyUsage.DIGITAL_SIGNATURE]
    forged = ota.encode_image(good.header, good.manufacturer_image, sign(key, good.signed_bytes))
    assert forged != good.raw
    esme.pending_image_hash, esme.held_image = good.manufacturer_image_hash, forged
    assert _activate(lab, good.manufacturer_image_hash) == (3, "01000000")


def test_held_and_running_images_survive_a_state_file(lab: Lab) -> None:
    esme = lab.esme
    assert _activate(lab, _hold(esme, "esme.ota"))[0] == 0
    _hold(esme, "esme-corrupted.ota")
    state = json.loads(json.dumps(esme.to_state()))
    twin = build_lab().esme
    twin.load_state(state)
    assert twin.running_image == esme.running_image
    assert twin.held_image == esme.held_image
