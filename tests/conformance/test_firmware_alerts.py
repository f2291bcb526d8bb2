"""The firmware alerts against the reference alerts: CCS08 (CHF) and CS09 (PPMID).

The hub's firmware distributor raises CCS08 when a transfer ends, the PPMID CS09
when it activates an image; each must match the RTDS alert in everything the
strict comparison checks (originator, recipient, message code, payload tree).
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from emulator.devices.base import Outbound
from emulator.devices.chf import Chf
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
