"""HAN devices that are not meters: PPMID, IHD (Type 2) and HCALCS.

The PPMID shows balance and passes a consumer's top-up code or emergency-credit
request to the meter (PCS01 / PCS02 / PECS01-03); as a remote-party target it
answers joins, unjoins and firmware-version reads (ASN.1). The IHD only reads:
it accepts no remote-party command. The HCALCS is a HAN-connected auxiliary load
control switch with the same ASN.1 housekeeping use cases.
"""

from __future__ import annotations

from typing import Any, ClassVar

from emulator.clock import Clock
from emulator.devices.base import Device, DeviceType, Incoming, Reply
from emulator.gbcs.asn1 import Der


class HanDevice(Device):
    speaks = "gbz"

    def __init__(self, eui: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(eui, clock, **kwargs)
        self.joined_to: set[bytes] = set()
        self.displayed_balance: int | None = None

    def execute(self, incoming: Incoming) -> Reply | None:
        tree = incoming.tree
        if isinstance(tree, Der):
            from emulator.devices.credentials import execute_asn1

            return execute_asn1(self, incoming, tree)
        return None

    def to_state(self) -> dict[str, Any]:
        state = super().to_state()
        state["joined_to"] = sorted(k.hex() for k in self.joined_to)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.joined_to = {bytes.fromhex(k) for k in state.get("joined_to", [])}


class Ppmid(HanDevice):
    device_type: ClassVar[DeviceType] = DeviceType.PPMID

    def image_received(self) -> None:
        """CS05c: a PPMID activates its image once it holds it whole (no CS06) and
        tells the ACB with CS09."""
        from emulator.devices.credentials import activate_on_receipt

        activate_on_receipt(self)


class Ihd(HanDevice):
    device_type: ClassVar[DeviceType] = DeviceType.IHD


class Hcalcs(HanDevice):
    device_type: ClassVar[DeviceType] = DeviceType.HCALCS


HAN_DEVICES: dict[DeviceType, type[Device]] = {
    DeviceType.PPMID: Ppmid,
    DeviceType.IHD: Ihd,
    DeviceType.HCALCS: Hcalcs,
}
