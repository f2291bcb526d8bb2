"""A SMETS1 premises in a lab: its hub and devices (emulated), on the lab's link.

`Lab` builds one `Smets1Site` per premises that names a `smets1_profile`; the
DCC reaches it through the S1SP (`hil.dcc.smets1`), never through GBCS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from emulator.clock import Clock
from emulator.devices.smets1.hub import Smets1Hub
from emulator.devices.smets1.meters import KINDS, Smets1Device, make_device
from emulator.devices.smets1.profile import Smets1Profile
from emulator.gbcs.eui import Eui64
from emulator.han.link import Link, open_link
from hil.dcc.inventory import DeviceKind, Inventory

if TYPE_CHECKING:
    from hil.dcc.lab import PremisesSpec

#: A SMETS1 hub has the CHF's fixed place in the premises: base | A2.
HUB_SUFFIX = 0xA2


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

    @classmethod
    def from_spec(
        cls,
        p: PremisesSpec,
        seed: str,
        clock: Clock,
        inventory: Inventory,
        names: dict[str, Eui64],
    ) -> Smets1Site:
        """A lab file's SMETS1 premises; its devices go on the inventory as SMETS1 of its model."""
        from hil.dcc.smets1_profiles import profile

        model = profile(str(p.smets1_profile))
        hub = Eui64(p.base | HUB_SUFFIX)
        devices: list[tuple[str, Eui64]] = []
        for d in p.devices:
            eui = hub if d.kind == DeviceKind.CHF else Eui64(p.base | d.suffix)
            inventory.add(
                eui,
                d.kind,
                d.status,
                hub=None if d.kind == DeviceKind.CHF else hub,
                model=model.model,
                smets1=True,
            )
            if d.kind != DeviceKind.CHF:
                devices.append((d.kind.value, eui))
            for alias in (d.kind.value, f"{p.name}/{d.kind.value}", d.name):
                if alias and (alias not in names or "/" in alias):
                    names.setdefault(alias, eui)
        return cls.build(p.name, model, hub, devices, clock, seed)

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
