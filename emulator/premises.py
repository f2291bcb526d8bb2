"""A premises of emulated devices behind one hub, with the lab parties that command it.

`Premises.build` makes a test PKI for the lab parties (supplier, network
operator, ACB, WAN provider, ...), the hub's CHF and GPF, and the meters and HAN
devices asked for; every device trusts the lab parties' keys in its anchor
cells and is in the CHF Device Log. `connect` puts the remote devices on a link
(`memory://`, a serial port, `mqtt://...`) and starts the hub; `sender` gives a
party that can sign and MAC commands to the premises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.clock import Clock, VirtualClock
from emulator.devices.anchors import AnchorRole, TrustAnchor
from emulator.devices.base import Device, DeviceType
from emulator.devices.chf import Chf
from emulator.devices.factory import create_device
from emulator.devices.gpf import Gpf
from emulator.devices.runner import DeviceRunner, restore_state
from emulator.gbcs.eui import Eui64
from emulator.gbcs.security import MessageSecurity
from emulator.han.link import Link, open_link
from emulator.hub import Hub
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import Party, RemotePartyRole, TestPki
from emulator.tasks import cancel_and_wait

LAB_PARTIES: dict[AnchorRole, tuple[str, RemotePartyRole, str]] = {
    AnchorRole.SUPPLIER: ("90-B3-D5-1F-30-01-00-00", RemotePartyRole.SUPPLIER, "Lab Supplier"),
    AnchorRole.NETWORK_OPERATOR: (
        "90-B3-D5-1F-30-02-00-00",
        RemotePartyRole.NETWORK_OPERATOR,
        "Lab Network Operator",
    ),
    AnchorRole.ACCESS_CONTROL_BROKER: (
        "90-B3-D5-1F-30-00-00-02",
        RemotePartyRole.ACCESS_CONTROL_BROKER,
        "Lab ACB",
    ),
    AnchorRole.WAN_PROVIDER: (
        "90-B3-D5-1F-30-00-00-07",
        RemotePartyRole.WAN_PROVIDER,
        "Lab WAN Provider",
    ),
    AnchorRole.TRANSITIONAL_COS: (
        "90-B3-D5-1F-30-00-00-04",
        RemotePartyRole.TRANSITIONAL_COS,
        "Lab Transitional CoS",
    ),
    AnchorRole.RECOVERY: ("90-B3-D5-1F-30-00-00-01", RemotePartyRole.RECOVERY, "Lab Recovery"),
    AnchorRole.ROOT: ("90-B3-D5-1F-30-00-00-03", RemotePartyRole.ROOT, "Lab Root"),
    AnchorRole.LOAD_CONTROLLER: (
        "90-B3-D5-1F-30-01-00-08",
        RemotePartyRole.LOAD_CONTROLLER,
        "Lab Load Controller",
    ),
}

#: A remote device of a premises: type, EUI-64 suffix, and optional constructor
#: options (an ESME's `variant` and `auxiliary`, a GSME's `wake_interval`).
DeviceSpec = tuple[DeviceType, int] | tuple[DeviceType, int, Mapping[str, Any]]

DEFAULT_DEVICES: tuple[DeviceSpec, ...] = (
    (DeviceType.ESME, 0xA0),
    (DeviceType.GSME, 0xA1),
    (DeviceType.PPMID, 0xA4),
)


def device_eui(base: int, suffix: int) -> Eui64:
    return Eui64(base | suffix)


def lab_pki(seed: str = "smets-hil-lab") -> tuple[TestPki, dict[AnchorRole, Party]]:
    pki = TestPki(seed)
    parties = {
        role: pki.remote_party(eui, kind, name) for role, (eui, kind, name) in LAB_PARTIES.items()
    }
    return pki, parties


def provision(device: Device, pki: TestPki, parties: dict[AnchorRole, Party]) -> None:
    """Give a device its own keys and certificates and the lab's anchor cells.

    A provisioned device counts as joined to the HAN (the lab's hub logs it
    without a join window): it serves at once, without a JOIN handshake.
    """
    device.han.provisioned()
    party = pki.parties.get(bytes(device.eui)) or pki.device(device.eui, device.device_type.value)
    device.own_keys.update(party.keys)
    device.own_certificates.update(party.certificates)
    for role, remote in parties.items():
        device.anchors.put(
            TrustAnchor(
                role,
                remote.eui,
                remote.keys[KeyUsage.DIGITAL_SIGNATURE].public_key(),
                remote.keys[KeyUsage.KEY_AGREEMENT].public_key(),
                remote.keys[KeyUsage.PREPAYMENT_KEY_AGREEMENT].public_key()
                if KeyUsage.PREPAYMENT_KEY_AGREEMENT in remote.keys
                else None,
            )
        )


#: GBCS device-log type numbers (CS03) of the devices a PPMID is joined to.
_JOIN_TYPES = {DeviceType.ESME: 1, DeviceType.GSME: 0, DeviceType.PPMID: 5}


def connect_ppmids(devices: Mapping[bytes, Device]) -> None:
    """A PPMID reaches the devices of its premises over the HAN (`Ppmid.connect`); it
    talks to a meter only once both are joined (CS03, or `join_ppmids`)."""
    from emulator.devices.han_devices import Ppmid

    for ppmid in devices.values():
        if isinstance(ppmid, Ppmid):
            ppmid.connect(devices.get)


def join_ppmids(devices: Mapping[bytes, Device]) -> None:
    """An installed premises: its PPMID joined to the ESME and GSME, both ways (what a
    lab's commissioned PPMID starts with; a bare `Premises.build` joins nothing)."""
    from emulator.devices.han_devices import Ppmid

    for ppmid in devices.values():
        if not isinstance(ppmid, Ppmid):
            continue
        for meter in devices.values():
            if meter.device_type in (DeviceType.ESME, DeviceType.GSME):
                ppmid.han_pairings[bytes(meter.eui)] = _JOIN_TYPES[meter.device_type]
                meter.han_pairings[bytes(ppmid.eui)] = _JOIN_TYPES[DeviceType.PPMID]
        ppmid.refresh(catch_up=False)  # the screen shows the meters from the start


def premises_install_code(suffix: int) -> bytes:
    """The install code a lab device is built with (and that a lab board of ours has)."""
    return b"install-code-" + bytes([suffix])


@dataclass
class Premises:
    pki: TestPki
    parties: dict[AnchorRole, Party]
    clock: Clock
    chf: Chf
    gpf: Gpf
    devices: dict[bytes, Device]
    hub: Hub | None = None
    runners: list[DeviceRunner] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        *,
        seed: str = "smets-hil-lab",
        base: int = 0x00DB123456789000,
        devices: Sequence[DeviceSpec] = DEFAULT_DEVICES,
        clock: Clock | None = None,
        pki: tuple[TestPki, dict[AnchorRole, Party]] | None = None,
    ) -> Premises:
        clock = clock or VirtualClock()
        the_pki, parties = pki or lab_pki(seed)
        acb = parties[AnchorRole.ACCESS_CONTROL_BROKER].eui
        chf = Chf(device_eui(base, 0xA2), clock, acb=acb)
        gpf = Gpf(device_eui(base, 0xA3), clock, acb=acb)
        built: dict[bytes, Device] = {}
        provision(chf, the_pki, parties)
        provision(gpf, the_pki, parties)
        for spec in devices:
            kind, suffix = spec[0], spec[1]
            options: Mapping[str, Any] = spec[2] if len(spec) > 2 else {}
            remote = create_device(kind, device_eui(base, suffix), clock, acb=acb, **options)
            provision(remote, the_pki, parties)
            built[bytes(remote.eui)] = remote
            remote.han.install_code = premises_install_code(suffix)
            chf.add_device(remote.eui, 0, remote.han.install_code)
        chf.add_device(gpf.eui)
        connect_ppmids(built)
        return cls(the_pki, parties, clock, chf, gpf, built)

    def device(self, kind: DeviceType) -> Device:
        for d in self.devices.values():
            if d.device_type == kind:
                return d
        raise KeyError(kind)

    def security_for(self, role: AnchorRole = AnchorRole.SUPPLIER) -> MessageSecurity:
        """What the DCC holds to send commands as `role`: its keys and the ACB's."""
        return MessageSecurity(
            self.pki.keystore, self.parties[AnchorRole.ACCESS_CONTROL_BROKER].eui
        )

    # -- links ---------------------------------------------------------------------------------
    async def connect(
        self,
        hub_url: str,
        device_url: str | None = None,
        *,
        state_dir: Any = None,
        per_device_urls: dict[bytes, str] | None = None,
    ) -> Hub:
        """Start the hub on `hub_url` and every remote device on `device_url` (or its own).

        `per_device_urls` maps a device to "HUB_END DEVICE_END": the two ends of a
        point-to-point link such as a pty pair or a serial cable.
        """
        hub_link = open_link(hub_url)
        await hub_link.open()
        self.links.append(hub_link)
        hub_state = (
            None if state_dir is None else Path(state_dir) / f"hub-{self.chf.eui.compact}.json"
        )
        self.hub = Hub(self.chf, hub_link, self.clock, gpf=self.gpf, state_file=hub_state)
        await self.hub.start()
        for eui, device in self.devices.items():
            own = (per_device_urls or {}).get(eui)
            if own is not None:  # point to point: (hub end URL, device end URL)
                hub_end, device_end = own.split(" ", 1)
                port = open_link(hub_end)
                await port.open()
                self.links.append(port)
                await self.hub.add_link(port, [device.eui])
                url = device_end
            else:
                url = device_url or hub_url
            # Opened bound to the device: on MQTT it subscribes to its own topic only and
            # carries its last will from the start, as a standalone device does.
            link = open_link(url, local=[device.eui])
            await link.open()
            self.links.append(link)
            state_file = (
                None if state_dir is None else Path(state_dir) / f"{device.eui.compact}.json"
            )
            if state_file is not None and state_file.is_file():  # a restart: carry on
                restore_state(device, state_file)
            runner = DeviceRunner(
                device, link, self.chf.eui, state_file=state_file, gpf=self.gpf.eui
            )
            self.runners.append(runner)
            if device.device_type == DeviceType.GSME:
                self.hub.register_sleepy(device.eui)
                await link.bind(device.eui)
            else:
                self.tasks.append(asyncio.create_task(runner.serve(), name=f"device[{device.eui}]"))
        await asyncio.sleep(0)
        return self.hub

    async def reset_han(self, eui: Eui64, install_code: bytes | None = None) -> None:
        """A new (or factory-reset) device in place of `eui`: it forgets its HAN
        membership, takes `install_code` if given, and joins when its runner starts
        again (at once; a GSME at its next wake-up)."""
        device = self.devices[bytes(eui)]
        runner = self.runner_for(eui)
        name = await self._stop_serving(device)
        device.han.forget()
        if install_code is not None:
            device.han.install_code = install_code
        if device.device_type != DeviceType.GSME:
            self.tasks.append(asyncio.create_task(runner.serve(), name=name))
        await asyncio.sleep(0)

    async def han_join(self, eui: Eui64) -> bool:
        """The device announces itself now (power-up, a button at installation): one JOIN
        handshake over its link, with its link key if it has one, else its install code;
        then it serves again (and retries on its own if refused). True when joined."""
        device = self.devices[bytes(eui)]
        runner = self.runner_for(eui)
        name = await self._stop_serving(device)
        joined = await runner.join_once()
        if device.device_type != DeviceType.GSME:
            self.tasks.append(asyncio.create_task(runner.serve(), name=name))
        await asyncio.sleep(0)
        return joined

    async def _stop_serving(self, device: Device) -> str:
        """Cancel the device's serving task (the caller restarts it under the name returned),
        so a handshake or reset never races the runner's own receive loop."""
        name = f"device[{device.eui}]"
        serving = [t for t in self.tasks if t.get_name() == name]
        # Cancelled again until it ends: a serve task that lost its cancellation (3.11's
        # wait_for in aiomqtt, mid-JOIN) would join forever while this waited for it.
        # One that survives even that stays in `tasks`, for `close` to try again.
        survivors = await cancel_and_wait(serving)
        for task in serving:
            if task not in survivors:
                self.tasks.remove(task)
        return name

    def runner_for(self, eui: Eui64) -> DeviceRunner:
        for r in self.runners:
            if r.device.eui == eui:
                return r
        raise KeyError(eui)

    async def close(self) -> None:
        if self.hub is not None:
            await self.hub.stop()
        await cancel_and_wait(self.tasks)
        for link in self.links:
            await link.close()
        self.tasks.clear()
        self.links.clear()

    async def __aenter__(self) -> Premises:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
