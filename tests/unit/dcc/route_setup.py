"""What a route's end-to-end case needs beyond default parameters.

Shared by the builder tests (commands sent straight through a hub) and the DCC
layer tests (the same commands as service requests): the required parameters
(the device to add, the partner to join) and the lab state a command acts on (a
pairing to unjoin, a firmware image held for activation).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from typing import Any

from emulator.devices.base import Device, DeviceType
from emulator.gbcs.eui import Eui64
from emulator.premises import Premises
from hil.dcc.routes import Route

NEW_DEVICE = Eui64("00-DB-12-34-56-78-90-B0")
#: A consumer access device (Type 2) on the SMI of the labs that use these cases.
TYPE2_DEVICE = Eui64("00-DB-12-34-56-78-90-B1")
IMAGE_HASH = hashlib.sha256(b"lab firmware image").digest()


def device_of(premises: Premises, kind: str) -> Device:
    if kind == "CHF":
        return premises.chf
    if kind == "GPF":
        return premises.gpf
    return premises.device(DeviceType(kind))


def lab_setup(r: Route, premises: Premises, target: Device, now: _dt.datetime) -> dict[str, Any]:
    """What a case needs beyond defaults: required parameters, and the lab state they
    act on (a pairing to unjoin, a firmware image held for activation)."""
    partner_kind = {"ESME": "PPMID", "GSME": "PPMID", "PPMID": "ESME", "HCALCS": "ESME"}
    if r.use_case == "CCS01":
        return {"device": NEW_DEVICE}
    if r.use_case == "CCS02":
        return {"device": premises.device(DeviceType.PPMID).eui}
    if r.use_case == "CS03B" and r.device_type == "ESME":  # method B: a Type 2 device
        return {"partner": TYPE2_DEVICE, "partner_type": "TYPE2"}
    if r.use_case == "CS03B":  # method B joins a gas meter with its GPF
        return {"partner": premises.gpf.eui}
    if r.use_case.startswith("CS03"):
        return {"partner": device_of(premises, partner_kind[r.device_type]).eui}
    if r.use_case.startswith("CS04"):
        partner = device_of(premises, partner_kind[r.device_type]).eui
        target.han_pairings[bytes(partner)] = 5
        return {"partner": partner}
    if r.use_case in ("ECS09", "GCS06"):  # emergency credit is offered in prepayment, low credit
        target.meter.configure({"prepayment": True, "balance": 50})  # type: ignore[attr-defined]
        return {}
    if r.use_case == "CS06":
        target.pending_image_hash = IMAGE_HASH
        target.pending_image_version = "01000001"
        return {"image_hash": IMAGE_HASH}
    return {}
