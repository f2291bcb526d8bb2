"""GPF: the gas proxy function inside the communications hub.

It answers reads for the gas meter from its mirror while the meter sleeps, and
refreshes the mirror whenever the meter wakes and pushes its data (`sync`). It
shares the ZCL server with the GSME; live values come from the mirror instead of
a meter.
"""

from __future__ import annotations

from typing import Any, ClassVar

from emulator.clock import Clock
from emulator.devices.base import DeviceType
from emulator.devices.zcl_device import ZclDevice
from emulator.devices.zcl_model import METERING, PREPAYMENT


class Gpf(ZclDevice):
    device_type: ClassVar[DeviceType] = DeviceType.GPF

    def __init__(self, eui: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(eui, clock, **kwargs)
        self.mirror_data: dict[str, Any] = {}
        self.syncs = 0

    def sync(self, mirror: dict[str, Any]) -> None:
        """Take the data a waking GSME pushed."""
        self.mirror_data = dict(mirror)
        self.syncs += 1
        for key, value in mirror.get("values", {}).items():
            cluster, attribute = (int(part, 16) for part in key.split(":"))
            self.zcl.values[(cluster, attribute)] = value

    def live_value(self, cluster: int, attribute_id: int) -> Any | None:
        """Values the meter reported in its last mirror.

        Before the first mirror the GPF knows nothing of the meter: it answers
        zeros of the attribute types rather than anything of its own.
        """
        m = self.mirror_data
        if not m:
            return None
        if cluster == METERING and attribute_id == 0x0000:
            return m.get("summation", 0)
        if cluster == METERING and 0x0100 <= attribute_id <= 0x0106 and attribute_id % 2 == 0:
            tiers = m.get("tiers", [])
            index = (attribute_id - 0x0100) // 2
            return tiers[index] if index < len(tiers) else 0
        if cluster == PREPAYMENT and attribute_id == 0x0001:
            return m.get("credit", 0)
        if cluster == PREPAYMENT and attribute_id == 0x0005:
            return m.get("debt", 0)
        return None

    def to_state(self) -> dict[str, Any]:
        state = super().to_state()
        state["mirror"] = self.mirror_data
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.mirror_data = dict(state.get("mirror", {}))
