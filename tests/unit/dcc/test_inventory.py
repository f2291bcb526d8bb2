"""The Smart Metering Inventory: statuses, the transitions services cause, enrolment."""

from __future__ import annotations

import datetime as _dt

import pytest

from emulator.clock import VirtualClock
from emulator.gbcs.eui import Eui64
from hil.dcc.inventory import (
    DeviceKind,
    Inventory,
    InventoryError,
    SmiStatus,
    StatusChange,
)

CHF, GPF = Eui64("00-DB-00-00-00-00-00-A2"), Eui64("00-DB-00-00-00-00-00-A3")
ESME, GSME = Eui64("00-DB-00-00-00-00-00-A0"), Eui64("00-DB-00-00-00-00-00-A1")
SUPPLIER = Eui64("90-B3-D5-1F-30-01-00-00")


def _inventory() -> tuple[Inventory, list[StatusChange]]:
    clock = VirtualClock(_dt.datetime(2026, 1, 5, tzinfo=_dt.UTC))
    inventory = Inventory(clock.now)
    changes: list[StatusChange] = []
    inventory.add_listener(changes.append)
    inventory.add(CHF, DeviceKind.CHF, SmiStatus.PENDING)
    inventory.add(GPF, DeviceKind.GPF, SmiStatus.PENDING, hub=CHF)
    return inventory, changes


def test_statuses_parse_in_cli_and_duis_spellings() -> None:
    assert SmiStatus.parse("installed-not-commissioned") is SmiStatus.INSTALLED_NOT_COMMISSIONED
    assert SmiStatus.parse("InstalledNotCommissioned") is SmiStatus.INSTALLED_NOT_COMMISSIONED
    assert SmiStatus.INSTALLED_NOT_COMMISSIONED.duis == "InstalledNotCommissioned"
    assert len(SmiStatus) == 9
    with pytest.raises(ValueError, match="unknown SMI status"):
        SmiStatus.parse("broken")
    assert DeviceKind.parse("cad") is DeviceKind.TYPE2


def test_the_install_journey_of_a_meter() -> None:
    inventory, changes = _inventory()
    device = inventory.pre_notify(ESME, DeviceKind.ESME, by=SUPPLIER, hub=CHF)
    assert device.status == SmiStatus.PENDING and device.added_by == SUPPLIER
    inventory.whitelisted(ESME, CHF)
    assert device.status == SmiStatus.WHITELISTED
    inventory.joined(ESME, CHF)
    assert device.status == SmiStatus.INSTALLED_NOT_COMMISSIONED
    with pytest.raises(InventoryError) as refused:
        inventory.commission(ESME)  # the CHF is not commissioned yet (H5.2)
    assert refused.value.code == "CHF_NOT_COMMISSIONED"
    inventory.hub_installed(CHF, wan=True)
    assert inventory[CHF].status == SmiStatus.COMMISSIONED
    assert inventory[GPF].status == SmiStatus.INSTALLED_NOT_COMMISSIONED
    inventory.commission(ESME)
    assert device.status == SmiStatus.COMMISSIONED and device.commissioned_at is not None
    assert inventory.enrolled(CHF) == {"electricity": True, "gas": False}
    assert [c.new for c in changes if c.device == ESME] == [
        SmiStatus.PENDING,
        SmiStatus.WHITELISTED,
        SmiStatus.INSTALLED_NOT_COMMISSIONED,
        SmiStatus.COMMISSIONED,
    ]


def test_gas_is_enrolled_only_with_both_gsme_and_gpf_commissioned() -> None:
    inventory, _ = _inventory()
    inventory.hub_installed(CHF, wan=True)
    inventory.add(GSME, DeviceKind.GSME, SmiStatus.INSTALLED_NOT_COMMISSIONED, hub=CHF)
    inventory.commission(GSME)
    assert inventory.enrolled(CHF)["gas"] is False
    inventory.commission(GPF)
    assert inventory.enrolled(CHF)["gas"] is True


def test_install_without_wan_leaves_the_chf_not_commissioned() -> None:
    inventory, _ = _inventory()
    inventory.hub_installed(CHF, wan=False)
    assert inventory[CHF].status == SmiStatus.INSTALLED_NOT_COMMISSIONED


def test_decommissioning_a_chf_takes_the_gpf_and_drops_associations() -> None:
    inventory, _ = _inventory()
    inventory.hub_installed(CHF, wan=True)
    inventory.add(ESME, DeviceKind.ESME, SmiStatus.COMMISSIONED, hub=CHF)
    assert {bytes(d.eui) for d in inventory.associated(ESME)} == {
        bytes(CHF),
        bytes(ESME),
        bytes(GPF),
    }
    changed = inventory.decommission(CHF)
    assert {bytes(d.eui) for d in changed} == {bytes(CHF), bytes(GPF)}
    assert inventory[GPF].status == SmiStatus.DECOMMISSIONED
    assert inventory[CHF].associations == set()
    assert inventory[ESME].status == SmiStatus.COMMISSIONED  # may move to a new CHF (H6.6)
    with pytest.raises(InventoryError) as again:
        inventory.decommission(CHF)
    assert again.value.code == "DEVICE_DECOMMISSIONED"
    with pytest.raises(InventoryError) as recommission:
        inventory.commission(CHF)
    assert recommission.value.code == "DEVICE_DECOMMISSIONED"


def test_type2_devices_are_never_decommissioned_and_may_be_recommissioned() -> None:
    inventory, _ = _inventory()
    inventory.hub_installed(CHF, wan=True)
    cad = Eui64("00-DB-00-00-00-00-00-A8")
    inventory.add(cad, DeviceKind.TYPE2, SmiStatus.DECOMMISSIONED, hub=CHF)
    with pytest.raises(InventoryError):
        inventory.decommission(cad)
    inventory.commission(cad)
    assert inventory[cad].status == SmiStatus.COMMISSIONED


def test_withdrawing_a_model_suspends_its_devices_and_a_ch_model_both_functions() -> None:
    inventory, changes = _inventory()
    inventory.add(ESME, DeviceKind.ESME, SmiStatus.COMMISSIONED, hub=CHF, model="bad meter")
    inventory[CHF].model = "bad hub"
    assert [d.eui for d in inventory.withdraw_model("bad meter")] == [ESME]
    assert inventory[ESME].status == SmiStatus.SUSPENDED
    hit = {bytes(d.eui) for d in inventory.withdraw_model("bad hub")}
    assert hit == {bytes(CHF), bytes(GPF)}
    assert changes[-1].cause == "model bad hub removed from the CPL"


def test_ch_returns_withdraw_both_functions() -> None:
    inventory, _ = _inventory()
    inventory.hub_returned(CHF, fault=True)
    assert inventory[CHF].status == inventory[GPF].status == SmiStatus.WITHDRAWN
    # a withdrawn device may be pre-notified again
    inventory.pre_notify(CHF, DeviceKind.CHF, by=SUPPLIER)
    assert inventory[CHF].status == SmiStatus.PENDING


def test_update_inventory_sets_only_the_statuses_duis_allows() -> None:
    inventory, _ = _inventory()
    inventory.add(ESME, DeviceKind.ESME, SmiStatus.PENDING, hub=CHF)
    inventory.update_status(ESME, SmiStatus.INSTALLED_NOT_COMMISSIONED)
    with pytest.raises(InventoryError) as refused:
        inventory.update_status(ESME, SmiStatus.COMMISSIONED)
    assert refused.value.code == "STATUS_UPDATE_NOT_ALLOWED"
    inventory.update_status(CHF, SmiStatus.COMMISSIONED)  # a CH may be set commissioned
    assert inventory[CHF].status == SmiStatus.COMMISSIONED


def test_pre_notifying_a_known_device_is_refused() -> None:
    inventory, _ = _inventory()
    with pytest.raises(InventoryError) as refused:
        inventory.pre_notify(CHF, DeviceKind.CHF, by=SUPPLIER)
    assert refused.value.code == "DEVICE_ALREADY_IN_INVENTORY"


def test_read_inventory_records_use_duis_field_names() -> None:
    inventory, _ = _inventory()
    record = inventory[GPF].record()
    assert record["DeviceID"] == str(GPF)
    assert record["DeviceType"] == "GPF"
    assert record["DeviceStatus"] == "Pending"
    assert record["CHFID"] == str(CHF)
