"""Pairing rules through the DCC (issue 9): method B for Type 2 devices, partners
not yet on the CHF Device Log, the inventory on 8.11 remove, CS07 on an ESME and
8.12.x restoring the logs from the DCC's backups (CS14, GCS62)."""

from __future__ import annotations

from lab_support import dcc_of, settle

from emulator.devices.device_log import DeviceLog
from emulator.gbcs.eui import Eui64
from hil.dcc.inventory import SmiStatus
from hil.dcc.lab import DEFAULT_LAB, Lab, LabSpec

TYPE2 = 6


async def _add_cad(lab: Lab) -> None:
    added = await dcc_of(lab).request(
        "8.11", as_user="energy-app", target=lab.eui("CHF"), option="add",
        params={"device": str(lab.eui("CAD"))},
    )  # fmt: skip
    assert added.ok, added.detail


async def test_other_user_joins_and_unjoins_its_cad_by_method_b(lab: Lab) -> None:
    dcc, cad, esme = dcc_of(lab), lab.eui("CAD"), lab.device("ESME")
    assert esme is not None
    await _add_cad(lab)
    joined = await dcc.request(
        "8.7.2", as_user="energy-app", target=lab.eui("ESME"), params={"partner": str(cad)}
    )
    assert joined.ok, joined.detail
    assert joined.use_case == "CS03B"
    assert esme.han_pairings[bytes(cad)] == TYPE2
    assert lab.inventory[cad].status == SmiStatus.INSTALLED_NOT_COMMISSIONED
    unjoined = await dcc.request(
        "8.8.2", as_user="energy-app", target=lab.eui("ESME"), params={"partner": str(cad)}
    )
    assert unjoined.ok, unjoined.detail
    assert unjoined.use_case == "CS04B"
    assert bytes(cad) not in esme.han_pairings


async def test_gas_meter_takes_a_type2_partner_by_method_b(lab: Lab) -> None:
    await _add_cad(lab)
    cad, gsme = lab.eui("CAD"), lab.device("GSME")
    assert gsme is not None
    joined = await dcc_of(lab).request(
        "8.7.2", as_user="energy-app", target=lab.eui("GSME"), params={"partner": str(cad)}
    )
    assert joined.ok, joined.detail
    assert gsme.han_pairings[bytes(cad)] == TYPE2


async def test_a_partner_not_on_the_chf_log_cannot_be_joined(lab: Lab) -> None:
    dcc, cad, esme = dcc_of(lab), lab.eui("CAD"), lab.device("ESME")
    assert esme is not None and lab.inventory[cad].status == SmiStatus.PENDING
    before = dict(esme.han_pairings)
    refused = await dcc.request(
        "8.7.2", as_user="energy-app", target=lab.eui("ESME"), params={"partner": str(cad)}
    )
    assert not refused.ok
    assert refused.reason == "PARTNER_NOT_IN_DEVICE_LOG"
    assert refused.command is None  # nothing went to the meter
    assert esme.han_pairings == before
    assert lab.inventory[cad].status == SmiStatus.PENDING


async def test_removing_a_never_joined_device_makes_it_pending_again(lab: Lab) -> None:
    cad = lab.eui("CAD")
    await _add_cad(lab)
    assert lab.inventory[cad].status == SmiStatus.WHITELISTED
    removed = await dcc_of(lab).request(
        "8.11", as_user="energy-app", target=lab.eui("CHF"), option="remove",
        params={"device": str(cad)},
    )  # fmt: skip
    assert removed.ok, removed.detail
    assert lab.inventory[cad].status == SmiStatus.PENDING


async def test_read_join_details_of_an_esme(lab: Lab) -> None:
    read = await dcc_of(lab).request("8.9", as_user="supplier", target=lab.eui("ESME"))
    assert read.ok, read.detail
    assert read.use_case == "CS07"


async def test_restore_takes_the_logs_from_the_last_backups(lab: Lab) -> None:
    dcc, chf, gpf = dcc_of(lab), lab.premises[0].chf, lab.premises[0].gpf
    esme = lab.eui("ESME")
    assert await lab.premises[0].han_join(esme)  # a link key: its hash goes in the CS14
    await _add_cad(lab)  # a CS14: the DCC now holds the log
    entries = [(str(lab.eui("GSME")), "GSME"), (str(lab.eui("PPMID")), "PPMID")]
    logged_gas = await dcc.request(
        "8.12.2", as_user="supplier", target=gpf.eui, params={"entries": entries}
    )  # a GCS62: the DCC holds the GPF log
    assert logged_gas.ok, logged_gas.detail
    await settle(20)
    logged = sorted(chf.device_log)
    gpf_log = dict(gpf.han_pairings)
    assert bytes(chf.eui) in dcc.backups.chf and len(gpf_log) == 2
    chf.log = DeviceLog()  # a replacement hub arrives with empty logs
    gpf.han_pairings = {}
    assert not chf.admits(esme)
    restored = await dcc.request("8.12.1", as_user="supplier", target=chf.eui)
    assert restored.ok, restored.detail
    assert sorted(chf.device_log) == logged
    assert not chf.admits(esme)  # the log holds its key's hash: it proves it first
    assert await lab.premises[0].han_join(esme)  # through the handshake
    assert chf.admits(esme)
    assert chf.device_log[bytes(esme)].key_source == "rejoined"
    gas = await dcc.request("8.12.2", as_user="supplier", target=gpf.eui)
    assert gas.ok, gas.detail
    assert gpf.han_pairings == gpf_log
    read = await dcc.request("4.18", as_user="supplier", target=esme)
    assert read.ok, read.detail


async def test_restore_from_a_hub_without_a_backup_is_refused(lab: Lab) -> None:
    refused = await dcc_of(lab).request(
        "8.12.1", as_user="supplier", target=lab.eui("CHF"),
        params={"restore_from": "00-DB-12-34-56-78-99-99"},
    )  # fmt: skip
    assert refused.reason == "NO_LOG_BACKUP"


async def test_a_lab_hub_that_replaced_another_restores_that_hubs_backup() -> None:
    """`replaced_hub` in a lab file: the DCC holds the old hub's log backup from the
    start, so 8.12.1 naming the old CHF restores the devices it had."""
    spec = LabSpec.from_file(DEFAULT_LAB)
    old_chf = Eui64("00-DB-12-34-56-78-90-95")
    spec.premises[0].replaced_chf = old_chf
    lab = Lab.build(spec)
    async with lab:
        dcc = dcc_of(lab)
        backup = dcc.backups.chf[bytes(old_chf)]
        assert {str(eui) for eui, _ in backup} >= {str(lab.eui("ESME")), str(lab.eui("GSME"))}
        restored = await dcc.request(
            "8.12.1", as_user="supplier", target=lab.eui("CHF"),
            params={"restore_from": str(old_chf)},
        )  # fmt: skip
        assert restored.ok, restored.detail
    without = Lab.load(DEFAULT_LAB)
    async with without:
        assert bytes(old_chf) not in dcc_of(without).backups.chf
