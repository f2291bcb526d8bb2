"""The CHF Device Log through the DCC: 8.11 add and remove, 8.12.1 restore, and the
CS14 alerts each change raises reaching the DCC."""

from __future__ import annotations

from lab_support import dcc_of, device_log_change, settle

from emulator.devices.chf import CS14
from hil.dcc.lab import Lab


def _cs14s(lab: Lab) -> int:
    chf = lab.eui("CHF")
    return sum(a.device == chf and a.message_code == CS14 for a in dcc_of(lab).alerts)


async def test_add_join_remove_leaves_the_historic_entry(lab: Lab) -> None:
    chf, cad = lab.premises[0].chf, lab.eui("CAD")
    await device_log_change(lab, "add", cad)
    await settle(10)
    assert _cs14s(lab) == 1
    assert chf.link_key_choice(cad) == "install_code"
    assert chf.joined(cad)  # the CAD completes joining in its window
    await settle(10)
    assert _cs14s(lab) == 2
    key = chf.device_log[bytes(cad)].link_key_hash
    await device_log_change(lab, "remove", cad)
    await settle(10)
    assert _cs14s(lab) == 3
    assert not chf.admits(cad)
    assert [(e.eui, e.link_key_hash) for e in chf.historic_log] == [(cad, key)]
    # added again, it may re-use that key in the first half of its new window
    await device_log_change(lab, "add", cad)
    assert chf.link_key_choice(cad) == "historic"


async def test_restore_replaces_the_log_and_alerts(lab: Lab) -> None:
    dcc, chf = dcc_of(lab), lab.premises[0].chf
    esme = lab.eui("ESME")
    restored = await dcc.request(
        "8.12.1",
        as_user="supplier",
        target=lab.eui("CHF"),
        params={"entries": [(str(esme), bytes(16))]},
    )
    assert restored.ok, restored.detail
    await settle(10)
    assert list(chf.device_log) == [bytes(esme)]
    assert _cs14s(lab) == 1
