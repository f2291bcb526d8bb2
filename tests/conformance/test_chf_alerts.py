"""The log-change alerts against the reference alerts: CS14 (CHF) and GCS62 (GPF).

The alerts are not answers to a command, so the replay (test_device_replay.py)
does not see them. Here the emulated hub is driven through a change of its log
with reference commands, and the alert it raises must match the reference
alert in everything the strict comparison checks in a response payload.
"""

from __future__ import annotations

from pathlib import Path

from emulator.devices.base import Outbound
from emulator.devices.chf import Chf
from emulator.devices.gpf import Gpf
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, decode_message
from emulator.gbcs.payload import decode_message_payload
from emulator.pki.folder import FolderKeyStore
from hil.conformance import Lab, Replayer, compare_trees
from hil.corpus import read_hex_file

CHF = Eui64("00-DB-12-34-56-78-90-A2")
GPF = Eui64("00-DB-12-34-56-78-90-A3")
ESME = Eui64("00-DB-12-34-56-78-90-A0")


def _same_alert(ours: GbcsMessage, ref: GbcsMessage) -> str | None:
    for name in ("cra", "message_code", "originator", "recipient"):
        if getattr(ours, name) != getattr(ref, name):
            return f"{name} {getattr(ours, name)} != {getattr(ref, name)}"
    return compare_trees(decode_message_payload(ours).tree, decode_message_payload(ref).tree)


def _replay(device: Chf | Gpf, folder: Path) -> None:
    assert any(out.kind == "response" for out in device.receive(read_hex_file(folder)))


def test_cs14_alert_matches_the_reference(
    rtds_messages: Path, rtds_keystore: FolderKeyStore
) -> None:
    chf = Replayer(rtds_keystore, Lab.load()).device(CHF)
    assert isinstance(chf, Chf)
    alerts: list[Outbound] = []
    chf.on_alert = alerts.append
    # the ESME was removed before (lab state); CCS01 adds it back (CS14), it joins (CS14)
    assert chf.remove_device(ESME)
    _replay(chf, rtds_messages / "8.11_CCS01" / "CCS01_8.11_SUCCESS_COMMAND_GBCS.HEX")
    assert chf.joined(ESME)
    assert [out.message_code for out in alerts] == [0x0018] * 2
    ref = decode_message(read_hex_file(rtds_messages / "NA_CS14" / "CS14_NA_8F12_ALERT_GBCS.HEX"))
    ours = decode_message(alerts[-1].message)
    assert ours.cra == Cra.ALERT
    assert _same_alert(ours, ref) is None, _same_alert(ours, ref)


def test_gcs62_alert_matches_the_reference(
    rtds_messages: Path, rtds_keystore: FolderKeyStore
) -> None:
    gpf = Replayer(rtds_keystore, Lab.load()).device(GPF)
    assert isinstance(gpf, Gpf)
    alerts: list[Outbound] = []
    gpf.on_alert = alerts.append
    _replay(gpf, rtds_messages / "8.12.2_GCS59" / "GCS59_8.12.2_SUCCESS_COMMAND_GBCS.HEX")
    assert [out.message_code for out in alerts] == [0x00B2]
    # a GPF whose log holds six devices (as the reference's did) backs it up whole
    gpf.han_pairings = {bytes(Eui64(0x00DB123456789090 + n)): 5 for n in range(6)}
    ours = decode_message(gpf.log_changed().message)
    ref = decode_message(read_hex_file(rtds_messages / "NA_GCS62" / "GCS62_NA_8071_ALERT_GBCS.HEX"))
    assert _same_alert(ours, ref) is None, _same_alert(ours, ref)
