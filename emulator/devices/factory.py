"""Create a device of a type by name (the CLI, labs and the conformance runner)."""

from __future__ import annotations

from typing import Any

from emulator.clock import Clock
from emulator.devices.base import Device, DeviceType
from emulator.gbcs.eui import Eui64


def device_class(device_type: DeviceType | str) -> type[Device]:
    kind = DeviceType(str(device_type).upper())
    if kind == DeviceType.ESME:
        from emulator.devices.esme import Esme

        return Esme
    if kind == DeviceType.CHF:
        from emulator.devices.chf import Chf

        return Chf
    if kind == DeviceType.GSME:
        from emulator.devices.gsme import Gsme

        return Gsme
    if kind == DeviceType.GPF:
        from emulator.devices.gpf import Gpf

        return Gpf
    if kind in (DeviceType.PPMID, DeviceType.IHD, DeviceType.HCALCS):
        from emulator.devices.han_devices import HAN_DEVICES

        return HAN_DEVICES[kind]
    raise ValueError(f"unknown device type {device_type}")


def create_device(
    device_type: DeviceType | str, eui: Eui64 | str, clock: Clock, **kwargs: Any
) -> Device:
    return device_class(device_type)(eui, clock, **kwargs)
