"""The firmware alerts against the reference alerts: CCS08 (CHF) and CS09 (PPMID).

The hub's firmware distributor raises CCS08 when a transfer ends, the PPMID CS09
when it activates an image; each must match the RTDS alert in everything the
strict comparison checks (originator, recipient, message code, payload tree).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from pathlib import Path

from emulator.devices.base import Outbound
from emulator.devices.chf import Chf
from emulator.gbcs import ota
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, decode_message
from emulator.gbcs.payload import decode_message_payload
from emulator.han.envelope import EnvelopeKind
from emulator.han.ota_blocks import END_OK, End
from emulator.hub_ota import OtaDistributor, Outcome
from emulator.pki.folder import FolderKeyStore
from hil.conformance import Lab, Replayer, compare_trees
from hil.corpus import read_hex_file
from hil.firmware import build_image, lab_supplier

CHF = Eui64("00-DB-12-34-56-78-90-A2")
PPMID = Eui64("00-DB-12-34-56-78-90-A4")
TEMPLATE_11_4 = "duis/templates/11.4_UPDATE_PPMID_FIRMWARE_REQUEST_DUIS.XML"


def _same_alert(ours: GbcsMessage, ref: GbcsMessage) -> str | None:
    for name in ("cra", "message_code", "originator", "recipient"):
        if getattr(ours, name) != getattr(ref, name):
            return f"{name} {getattr(ours, name)} != {getattr(ref, name)}"
    if (ours.signature is None) != (ref.signature is None):
        return "signature presence differs"
    return compare_trees(decode_message_payload(ours).tree, decode_message_payload(ref).tree)


async def test_ccs08_alert_matches_the_reference(
    rtds_messages: Path, rtds_keystore: FolderKeyStore
) -> None:
    chf = Replayer(rtds_keystore, Lab.load()).device(CHF)
    assert isinstance(chf, Chf)
    alerts: list[Outbound] = []
    chf.on_alert = alerts.append

    async def send(target: bytes, kind: EnvelopeKind, payload: bytes) -> None:
        return None

    hub = OtaDistributor(chf, chf.clock, send)
    signer, _ = lab_supplier()
    data = build_image(
        b"PPMID image", manufacturer=0x1234, image_type=4, version=0x0123ABCD, signer=signer
    )
    assert hub.offer(PPMID, data, 1) is None
    hub.on_end(bytes(PPMID), End(hashlib.sha256(data).digest(), END_OK).encode())
    assert hub.outcomes == [(bytes(PPMID), Outcome.TRANSFER_SUCCEEDED)]
    [alert] = alerts
    ref = decode_message(read_hex_file(rtds_messages / "NA_CCS08" / "CCS08_NA_NA_ALERT_GBCS.HEX"))
    ours = decode_message(alert.message)
    assert ours.cra == Cra.ALERT
    assert _same_alert(ours, ref) is None, _same_alert(ours, ref)
    await asyncio.sleep(0)


def test_cs09_alert_matches_the_reference(
    rtds_root: Path, rtds_messages: Path, rtds_keystore: FolderKeyStore
) -> None:
    """The PPMID takes the DUIS 11.4 template's image (GFI-built, RTDS supplier's
    signature), activates it on receipt and raises CS09."""
    ppmid = Replayer(rtds_keystore, Lab.load()).device(PPMID)
    alerts: list[Outbound] = []
    ppmid.on_alert = alerts.append
    text = (rtds_root.parent / TEMPLATE_11_4).read_text(encoding="utf-8")
    found = re.search(r"<sr:FirmwareImage>([^<]+)</sr:FirmwareImage>", text)
    assert found is not None
    data = base64.b64decode(found.group(1))
    image = ota.decode_image(data, signed=False)  # CS05c: no supplier signature
    assert image.header.hardware_min is not None
    ppmid.hardware_version = image.header.hardware_min
    ppmid.held_image = data
    ppmid.pending_image_hash = image.manufacturer_image_hash
    ppmid.pending_image_version = image.header.version_hex
    ppmid.image_received()
    assert ppmid.firmware_version == image.header.version_hex
    [alert] = alerts
    ref = decode_message(read_hex_file(rtds_messages / "NA_CS09" / "CS09_NA_8F8B_ALERT_GBCS.HEX"))
    ours = decode_message(alert.message)
    assert _same_alert(ours, ref) is None, _same_alert(ours, ref)
