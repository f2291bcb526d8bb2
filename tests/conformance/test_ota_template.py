"""The OTA Upgrade Image in the DUIS 11.1 template, built by another tool (GFI).

It is the independent builder's image: our codec must decode it, its supplier
signature must verify over the manufacturer image (GBCS 11.2.2) with the RTDS
certificate of the supplier that sent the request, and our hub must take it:
refuse it for the lab's hardware-1 devices (the header says 0x1111-0x1211) and
move it for a device of that hardware.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from pathlib import Path

import pytest

from emulator.gbcs import ota
from emulator.gbcs.crypto import verify
from emulator.gbcs.eui import Eui64
from emulator.hub_ota import Outcome
from emulator.pki.folder import FolderKeyStore
from emulator.pki.keystore import KeyUsage
from hil.dcc.lab import DEFAULT_LAB, Lab
from hil.firmware import check_signature

SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")
TEMPLATE = "duis/templates/11.1_UPDATE_FIRMWARE_REQUEST_DUIS.XML"


@pytest.fixture(scope="module")
def template_image(rtds_root: Path) -> bytes:
    text = (rtds_root.parent / TEMPLATE).read_text(encoding="utf-8")
    found = re.search(r"<sr:FirmwareImage>([^<]+)</sr:FirmwareImage>", text)
    assert found is not None
    return base64.b64decode(found.group(1))


def test_template_image_decodes(template_image: bytes) -> None:
    image = ota.decode_image(template_image)
    h = image.header
    assert len(template_image) == h.total_image_size == 361
    assert h.header_length == 60 and (h.hardware_min, h.hardware_max) == (0x1111, 0x1211)
    assert h.header_string.startswith(b"I am a GFI ESME")
    assert image.manufacturer_image.startswith(b"CriticalSoftware sample firmware image_")
    assert len(image.manufacturer_image) == 235 and image.force_replace == 0
    assert image.manufacturer_image_hash == hashlib.sha256(image.manufacturer_image).digest()


def test_template_signature_verifies_over_the_manufacturer_image(
    template_image: bytes, rtds_keystore: FolderKeyStore
) -> None:
    image = ota.decode_image(template_image)
    key = rtds_keystore.public_key(SUPPLIER, KeyUsage.DIGITAL_SIGNATURE)
    verify(key, image.manufacturer_image, image.signature)
    assert check_signature(image, rtds_keystore, SUPPLIER) is None
    other = Eui64("90-B3-D5-1F-30-00-00-02")  # the network operator: not the signer
    assert check_signature(image, rtds_keystore, other) is not None


async def test_our_hub_takes_the_template_image(template_image: bytes) -> None:
    lab = Lab.load(DEFAULT_LAB)
    async with lab:
        hub = lab.premises[0].hub
        assert hub is not None
        esme = lab.eui("ESME")
        assert hub.distribute(esme, template_image, 1) == Outcome.HARDWARE_MISMATCH
        assert hub.distribute(esme, template_image, 0x1200) is None
        for _ in range(400):
            if any(eui == bytes(esme) for eui, _ in hub.ota.outcomes[1:]):
                break
            await asyncio.sleep(0.01)
        assert hub.ota.outcomes[-1] == (bytes(esme), Outcome.TRANSFER_SUCCEEDED)
        device = lab.device("ESME")
        assert device is not None and device.held_image == template_image
