"""Device-side failures come back through the DCC as failed outcomes with the device's code.

Each case sets a cause on the device (a full device log, a forgotten pairing, a
key pair the certificate does not match, an image with another hash, a UTRN the
meter has already used), never the result code that is checked. The request must
fail with DEVICE_FAILURE, its outcome must carry the device's own code, and the
inventory (SMI status, associations) must stay as it was. Where a success would
change the inventory, the same request without the cause shows that it does.
"""

from __future__ import annotations

from lab_support import dcc_of

from emulator.devices.base import Device, DeviceType
from emulator.devices.esme import Esme
from emulator.devices.gsme import Gsme
from emulator.gbcs.dlms.apdu import ActionResult
from emulator.gbcs.eui import Eui64
from emulator.pki.keystore import KeyUsage
from hil.dcc.inventory import SmiStatus
from hil.dcc.lab import Lab
from hil.dcc.requests import RequestStatus, Result

OTHER_PARTNERS = (Eui64("00-DB-12-34-56-78-90-F1"), Eui64("00-DB-12-34-56-78-90-F2"))


def _device(lab: Lab, kind: DeviceType) -> Device:
    return lab.premises[0].device(kind)


def _inventory(lab: Lab) -> list[tuple[str, str, list[str]]]:
    """Everything the inventory says about each device: record, status, associations."""
    return [
        (
            str(d.record()),
            str(d.status),
            sorted(str(a.eui) for a in lab.inventory.associated(d.eui)),
        )
        for d in lab.inventory
    ]


def _failed_with(result: Result, code: int) -> None:
    assert result.status == RequestStatus.FAILED, result.detail
    assert result.reason == "DEVICE_FAILURE"
    assert result.outcome is not None and not result.outcome.ok
    assert result.outcome.device_code == code, result.outcome.summary


# -- ASN.1 --------------------------------------------------------------------------------------


async def test_a_join_into_a_full_device_log_fails_and_leaves_the_smi_status(lab: Lab) -> None:
    dcc = dcc_of(lab)
    esme = _device(lab, DeviceType.ESME)
    ppmid = lab.eui("PPMID")
    lab.inventory.set_status(ppmid, SmiStatus.WHITELISTED, "test: not yet joined")
    esme.han_pairings.pop(bytes(ppmid), None)
    esme.han_pairings.update({bytes(e): 6 for e in OTHER_PARTNERS})
    esme.device_log_capacity = len(esme.han_pairings)  # the cause: the log is full
    pairings, before = dict(esme.han_pairings), _inventory(lab)

    failed = await dcc.request(
        "8.7.1", as_user="supplier", target=esme.eui, params={"partner": str(ppmid)}
    )
    _failed_with(failed, 4)  # GBCS CS03: Device Log Full
    assert lab.inventory[ppmid].status == SmiStatus.WHITELISTED
    assert _inventory(lab) == before
    assert esme.han_pairings == pairings

    esme.device_log_capacity += 1  # room again: the same join succeeds and counts
    joined = await dcc.request(
        "8.7.1", as_user="supplier", target=esme.eui, params={"partner": str(ppmid)}
    )
    assert joined.ok, joined.detail
    assert lab.inventory[ppmid].status == SmiStatus.INSTALLED_NOT_COMMISSIONED


async def test_an_unjoin_of_a_partner_the_device_log_lacks_fails(lab: Lab) -> None:
    dcc = dcc_of(lab)
    esme = _device(lab, DeviceType.ESME)
    ppmid = lab.eui("PPMID")
    lab.inventory.associate(esme.eui, ppmid)
    esme.han_pairings.pop(bytes(ppmid), None)  # the cause: the meter no longer holds it
    before = _inventory(lab)

    failed = await dcc.request(
        "8.8.1", as_user="supplier", target=esme.eui, params={"partner": str(ppmid)}
    )
    _failed_with(failed, 1)  # GBCS CS04: not in the device log
    assert _inventory(lab) == before
    assert ppmid in {d.eui for d in lab.inventory.associated(esme.eui)}


async def test_a_device_certificate_for_a_key_the_meter_lacks_is_refused(lab: Lab) -> None:
    """CS02d offers the key store's certificate of the meter's signing key; the meter's
    credential store no longer holds that certificate (nor a key awaiting one)."""
    dcc = dcc_of(lab)
    esme = _device(lab, DeviceType.ESME)
    del esme.own_certificates[KeyUsage.DIGITAL_SIGNATURE]  # the cause
    esme.pending_keys.clear()
    certificates, before = dict(esme.own_certificates), _inventory(lab)

    failed = await dcc.request(
        "6.15.2", as_user="supplier", target=esme.eui, params={"usage": "digital_signature"}
    )
    _failed_with(failed, 3)
    assert esme.own_certificates == certificates
    assert _inventory(lab) == before


async def test_activating_an_image_with_another_hash_fails(lab: Lab) -> None:
    dcc = dcc_of(lab)
    esme = _device(lab, DeviceType.ESME)
    esme.pending_image_hash, esme.pending_image_version = bytes(32), "01000009"  # the cause
    version, before = esme.firmware_version, _inventory(lab)

    failed = await dcc.request(
        "11.3", as_user="supplier", target=esme.eui, params={"image_hash": "11" * 32}
    )
    _failed_with(failed, 2)  # GBCS CS06: hash mismatch
    assert esme.firmware_version == version
    assert _inventory(lab) == before


# -- DLMS and GBZ: a UTRN the meter has already used ---------------------------------------------


async def test_an_electricity_top_up_the_meter_refuses_fails(lab: Lab) -> None:
    dcc = dcc_of(lab)
    esme = _device(lab, DeviceType.ESME)
    assert isinstance(esme, Esme)
    esme.utrn_counters = [1 << 32]  # the cause: counter 1 used
    balance, before = esme.meter.balance, _inventory(lab)

    failed = await dcc.request("2.2", as_user="supplier", target=esme.eui)
    _failed_with(failed, ActionResult.HARDWARE_FAULT)
    assert esme.meter.balance == balance
    assert _inventory(lab) == before

    again = await dcc.request("2.2", as_user="supplier", target=esme.eui)  # counter 2
    assert again.ok, again.detail
    assert esme.meter.balance > balance


async def test_a_gas_top_up_the_meter_refuses_fails(lab: Lab) -> None:
    dcc = dcc_of(lab)
    gsme = _device(lab, DeviceType.GSME)
    assert isinstance(gsme, Gsme)
    gsme.utrn_counters = [1 << 32]  # the cause: counter 1 used
    balance, before = gsme.meter.balance, _inventory(lab)

    failed = await dcc.request("2.2", as_user="supplier", target=gsme.eui)
    _failed_with(failed, 2)  # ZSE consumer top-up: rejected, duplicate
    assert gsme.meter.balance == balance
    assert _inventory(lab) == before
