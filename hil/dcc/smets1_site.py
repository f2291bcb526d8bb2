"""A SMETS1 premises in a lab: its hub and devices (emulated), on the lab's link.

`Lab` builds one `Smets1Site` per premises that names a `smets1_profile`; the
DCC reaches it through the S1SP (`hil.dcc.smets1`), never through GBCS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.clock import Clock
from emulator.devices.smets1.hub import Smets1Hub
from emulator.devices.smets1.meters import KINDS, Smets1Device, make_device
from emulator.devices.smets1.profile import Smets1Profile
from emulator.gbcs.eui import Eui64
from emulator.han.link import Link, open_link


@dataclass
class Smets1Site:
    name: str
    profile: Smets1Profile
    hub: Smets1Hub
    devices: dict[bytes, Smets1Device] = field(default_factory=dict)  # hub included
    link: Link | None = None

    @classmethod
    def build(
        cls,
        name: str,
        profile: Smets1Profile,
        hub_eui: Eui64,
        devices: list[tuple[str, Eui64]],
        clock: Clock,
        seed: str,
    ) -> Smets1Site:
        hub_device = make_device("CHF", hub_eui, profile, clock)
        others = [make_device(kind, eui, profile, clock) for kind, eui in devices if kind in KINDS]
        hub = Smets1Hub(hub_device, others, clock, seed=seed)
        site = cls(name, profile, hub)
        for device in (hub_device, *others):
            site.devices[bytes(device.eui)] = device
        return site

    @property
    def hub_eui(self) -> Eui64:
        return self.hub.device.eui

    @property
    def device_euis(self) -> list[Eui64]:
        return [d.eui for d in self.devices.values() if d.eui != self.hub_eui]

    async def start(self, url: str) -> None:
        self.link = open_link(url, local=[self.hub_eui])
        await self.link.open()
        await self.hub.start(self.link)

    async def stop(self) -> None:
        await self.hub.stop()
        if self.link is not None:
            await self.link.close()
