"""A lab: premises of emulated devices, the DCC users, and the DCC in front of them.

A lab file (YAML, `docs/dcc.md` has the format) names the users and their user
IDs, and for each premises its devices (type, EUI-64 suffix, inventory status,
SMETS1 or not, model) and registration data (who supplies, distributes and
serves it). `Lab.load(path)` builds it; `async with lab:` connects the devices
on the lab's link and starts the hub and the DCC.

Device trust anchors follow the registration data: an ESME holds its Import
Supplier and Electricity Distributor, a GSME and GPF their Gas Supplier and Gas
Transporter, so an eligible user's command verifies and another user's would not.

Gas meters sleep. With a virtual clock a command queued for one wakes it at
its next scheduled wake-up (virtual time moves there; the wait is HAN time, not
counted in response times); with the real clock each GSME wakes on its own
schedule (`wake_interval` in the lab file).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from emulator.clock import Clock, RealClock, VirtualClock
from emulator.devices.anchors import AnchorRole, TrustAnchor
from emulator.devices.base import Device, DeviceType
from emulator.devices.gsme import Gsme
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.han.broker import EmbeddedBroker
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import Party, TestPki
from emulator.premises import Premises, lab_pki
from hil.dcc.catalogue import Role
from hil.dcc.inventory import DeviceKind, Inventory, SmiStatus
from hil.dcc.registration import PremisesRegistration
from hil.dcc.service import Dcc
from hil.dcc.users import User, UserRegistry
from hil.fixtures import FIXTURES

LABS = FIXTURES / "labs"
DEFAULT_LAB = LABS / "demo.yaml"

#: Device kinds the emulator runs; other inventory entries (IHD, CAD) are records only.
EMULATED: dict[DeviceKind, DeviceType] = {
    DeviceKind.ESME: DeviceType.ESME,
    DeviceKind.GSME: DeviceType.GSME,
    DeviceKind.PPMID: DeviceType.PPMID,
    DeviceKind.HCALCS: DeviceType.HCALCS,
}


#: `link: mqtt-embedded` runs an amqtt broker in the lab's process for the HAN.
EMBEDDED_MQTT = "mqtt-embedded"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "lab"


class LabError(ValueError):
    """A lab file that cannot describe a lab; the message names the place."""


@dataclass
class DeviceSpec:
    kind: DeviceKind
    suffix: int
    status: SmiStatus = SmiStatus.COMMISSIONED
    smets1: bool = False
    model: str = "smets-hil virtual"
    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # constructor options (ESME variant)


@dataclass
class PremisesSpec:
    name: str
    base: int
    devices: list[DeviceSpec]
    registration: dict[str, Any]
    postcode: str = ""


@dataclass
class LabSpec:
    name: str
    seed: str
    start: _dt.datetime
    virtual: bool
    link: str
    users: dict[str, dict[Role, Eui64]]
    premises: list[PremisesSpec]
    wake_interval: _dt.timedelta = _dt.timedelta(minutes=30)
    response_timeout: float = 30.0
    history_days: float = 0.0

    @classmethod
    def from_yaml(cls, text: str, where: str = "lab") -> LabSpec:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise LabError(f"{where}: not YAML: {exc}") from None
        if not isinstance(data, dict):
            raise LabError(f"{where}: expected a mapping at the top")
        try:
            return cls._parse(data, where)
        except (KeyError, TypeError, ValueError) as exc:
            raise LabError(f"{where}: {exc}") from None

    @classmethod
    def _parse(cls, data: dict[str, Any], where: str) -> LabSpec:
        users: dict[str, dict[Role, Eui64]] = {}
        for name, entry in (data.get("users") or {}).items():
            roles = entry.get("roles") if isinstance(entry, dict) else None
            if isinstance(roles, dict):
                users[name] = {Role.parse(r): Eui64(v) for r, v in roles.items()}
            elif isinstance(roles, list) and "id" in entry:
                users[name] = {Role.parse(r): Eui64(entry["id"]) for r in roles}
            else:
                raise ValueError(f"user {name!r}: give roles as {{role: id}} or roles + id")
        premises = []
        for index, p in enumerate(data.get("premises") or [], start=1):
            devices = []
            for d in p.get("devices") or []:
                kind = DeviceKind.parse(str(d["type"]))
                devices.append(
                    DeviceSpec(
                        kind,
                        _suffix(d["suffix"]),
                        SmiStatus.parse(str(d.get("status", "commissioned"))),
                        bool(d.get("smets1", False)),
                        str(d.get("model", "smets-hil virtual")),
                        str(d.get("name", "")),
                        _device_options(kind, d),
                    )
                )
            kinds = [d.kind for d in devices]
            for hub_kind in (DeviceKind.CHF, DeviceKind.GPF):
                if kinds.count(hub_kind) != 1:
                    raise ValueError(f"premises {index}: needs exactly one {hub_kind}")
            premises.append(
                PremisesSpec(
                    str(p.get("name", f"premises {index}")),
                    int(str(p.get("base", "0x00DB123456789000")), 0),
                    devices,
                    dict(p.get("registration") or {}),
                    str(p.get("postcode", "")),
                )
            )
        if not premises:
            raise ValueError("a lab needs at least one premises")
        start = data.get("start", "2026-01-05T09:00:00Z")
        when = (
            start
            if isinstance(start, _dt.datetime)
            else _dt.datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        )
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.UTC)
        return cls(
            name=str(data.get("name", where)),
            seed=str(data.get("seed", "smets-hil-lab")),
            start=when,
            virtual=str(data.get("clock", "virtual")) == "virtual",
            link=str(data.get("link", "memory://lab")),
            users=users,
            premises=premises,
            wake_interval=_dt.timedelta(seconds=float(data.get("wake_interval_s", 1800))),
            response_timeout=float(data.get("response_timeout_s", 30)),
            history_days=float(data.get("history_days", 0)),
        )


def _device_options(kind: DeviceKind, entry: dict[str, Any]) -> dict[str, Any]:
    """An ESME's `variant` (any, single, twin, polyphase) and `auxiliary` (ALCS fitted)."""
    options: dict[str, Any] = {}
    for key in ("variant", "auxiliary"):
        if key in entry:
            if kind != DeviceKind.ESME:
                raise ValueError(f"{key!r} applies to an ESME, not a {kind}")
            options[key] = entry[key]
    if "variant" in options:
        from emulator.devices.esme import VARIANTS

        if options["variant"] not in VARIANTS:
            raise ValueError(
                f"ESME variant {options['variant']!r}: expected one of {', '.join(VARIANTS)}"
            )
    if "auxiliary" in options:
        options["auxiliary"] = bool(options["auxiliary"])
    return options


def _suffix(value: object) -> int:
    if isinstance(value, int):
        return value
    return int(str(value), 16)


@dataclass
class Lab:
    spec: LabSpec
    clock: Clock
    pki: TestPki
    users: UserRegistry
    inventory: Inventory
    premises: list[Premises]
    registrations: dict[bytes, PremisesRegistration]
    names: dict[str, Eui64]  # "ESME", "1 Lab Street/ESME", device names -> EUI
    dcc: Dcc | None = None
    link_url: str = ""
    _broker: EmbeddedBroker | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _waking: set[bytes] = field(default_factory=set)

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def load(
        cls, path: str | Path = DEFAULT_LAB, *, clock: Clock | None = None, link: str | None = None
    ) -> Lab:
        """A lab from its file; `link` overrides the file's HAN link."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise LabError(f"cannot read lab file {path}: {exc.strerror}") from None
        spec = LabSpec.from_yaml(text, str(path))
        if link is not None:
            spec.link = link
        return cls.build(spec, clock=clock)

    @classmethod
    def build(cls, spec: LabSpec, *, clock: Clock | None = None) -> Lab:
        history = _dt.timedelta(days=spec.history_days)
        if clock is None:
            clock = VirtualClock(spec.start - history) if spec.virtual else RealClock()
        pki, parties = lab_pki(spec.seed)
        users = UserRegistry(pki)
        for name, ids in spec.users.items():
            users.add(name, ids)
        inventory = Inventory(clock.now)
        built: list[Premises] = []
        registrations: dict[bytes, PremisesRegistration] = {}
        names: dict[str, Eui64] = {}
        for p in spec.premises:
            emulated = tuple(
                (EMULATED[d.kind], d.suffix, d.options) for d in p.devices if d.kind in EMULATED
            )
            premises = Premises.build(
                seed=spec.seed, base=p.base, devices=emulated, clock=clock, pki=(pki, parties)
            )
            for device in premises.devices.values():
                if isinstance(device, Gsme):
                    device.wake_interval = spec.wake_interval
            by_kind: dict[DeviceKind, Eui64] = {}
            for d in p.devices:
                eui = Eui64(p.base | d.suffix) if not d.kind.hub else None
                if d.kind == DeviceKind.CHF:
                    eui = premises.chf.eui
                elif d.kind == DeviceKind.GPF:
                    eui = premises.gpf.eui
                assert eui is not None
                inventory.add(
                    eui,
                    d.kind,
                    d.status,
                    hub=None if d.kind == DeviceKind.CHF else premises.chf.eui,
                    model=d.model,
                    smets1=d.smets1,
                )
                by_kind.setdefault(d.kind, eui)
                for alias in (d.kind.value, f"{p.name}/{d.kind.value}", d.name):
                    if alias and (alias not in names or "/" in alias):
                        names.setdefault(alias, eui)
                if d.status in (SmiStatus.PENDING,) and d.kind in EMULATED:
                    premises.chf.remove_device(eui)  # not yet in the CHF Device Log
            registration = _registration(premises.chf.eui, p.registration, users)
            registration.postcode = p.postcode
            registration.csp_region = str(p.registration.get("csp_region", "Central"))
            registration.wan_coverage = str(p.registration.get("wan_coverage", "Connected"))
            registrations[bytes(premises.chf.eui)] = registration
            _anchor_devices(premises, registration)
            built.append(premises)
        if history and isinstance(clock, VirtualClock):
            _live_history(built, clock, spec.start - history, spec.start)
        return cls(spec, clock, pki, users, inventory, built, registrations, names)

    # -- running ------------------------------------------------------------------------------
    async def start(self) -> Dcc:
        base = self.spec.link
        if base == EMBEDDED_MQTT:
            self._broker = EmbeddedBroker()
            await self._broker.__aenter__()
            base = self._broker.url_for(_slug(self.spec.name))
        self.link_url = base
        hubs = {}
        for index, premises in enumerate(self.premises):
            link = base if len(self.premises) == 1 else f"{base}-{index}"
            hub = await premises.connect(link)
            hub.add_listener(self._on_hub_event)
            hubs[bytes(premises.chf.eui)] = hub
            if not isinstance(self.clock, VirtualClock):
                for runner in premises.runners:
                    if isinstance(runner.device, Gsme):
                        self._tasks.append(asyncio.create_task(runner.run_sleepy(0.2)))
        parties = self.premises[0].parties
        acb = parties[AnchorRole.ACCESS_CONTROL_BROKER].eui
        dcc_roles = (
            AnchorRole.TRANSITIONAL_COS,
            AnchorRole.WAN_PROVIDER,
            AnchorRole.RECOVERY,
        )
        self.dcc = Dcc(
            clock=self.clock,
            users=self.users,
            inventory=self.inventory,
            registrations=self.registrations,
            hubs=hubs,
            keystore=self.pki.keystore,
            acb=acb,
            ca_certificate=self.pki.org_ca,
            dcc_parties={r.value: parties[r].eui for r in dcc_roles if r in parties},
        )
        self.dcc.firmware_delivery = self._deliver_firmware
        self.dcc.response_timeout = self.spec.response_timeout
        await self.dcc.start()
        return self.dcc

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.dcc is not None:
            await self.dcc.stop()
        for premises in self.premises:
            await premises.close()
        if self._broker is not None:
            broker, self._broker = self._broker, None
            await broker.__aexit__(None, None, None)

    async def __aenter__(self) -> Lab:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- helpers ------------------------------------------------------------------------------
    def user(self, name: str) -> User:
        return self.users[name]

    def eui(self, name: str | Eui64) -> Eui64:
        """A device by alias (`ESME`, `1 Lab Street/GSME`, a name from the file) or EUI-64."""
        if isinstance(name, Eui64):
            return name
        if name in self.names:
            return self.names[name]
        try:
            return Eui64(name)
        except ValueError:
            known = ", ".join(sorted(self.names))
            raise LabError(f"no device {name!r} in the lab (known: {known})") from None

    def device(self, name: str | Eui64) -> Device | None:
        key = bytes(self.eui(name))
        for premises in self.premises:
            if key in premises.devices:
                return premises.devices[key]
            if key == bytes(premises.chf.eui):
                return premises.chf
            if key == bytes(premises.gpf.eui):
                return premises.gpf
        return None

    def advance(self, seconds: float) -> None:
        """Move virtual time (future-dated and scheduled requests fall due)."""
        if not isinstance(self.clock, VirtualClock):
            raise LabError("advance needs a lab with a virtual clock")
        self.clock.advance(seconds)

    async def run_for(self, seconds: float) -> None:
        """Move virtual time timer by timer, letting what each releases finish first.

        A held future-dated request must go out at its execution time, not at the
        end of a long jump: after each due timer the loop runs until the commands it
        released have their answers, then time moves on.
        """
        if not isinstance(self.clock, VirtualClock):
            await asyncio.sleep(seconds)
            return
        end = self.clock.now() + _dt.timedelta(seconds=seconds)
        while (due := self.clock.next_due()) is not None and due <= end:
            self.clock.set(due)
            if self.dcc is not None:
                await self.dcc.settle()
            else:
                await asyncio.sleep(0)
        self.clock.set(end)
        if self.dcc is not None:
            await self.dcc.settle()

    def _deliver_firmware(self, eui: Eui64, image_hash: bytes, version: str) -> None:
        device = self.device(eui)
        if device is not None:
            device.pending_image_hash = image_hash
            device.pending_image_version = version

    def _on_hub_event(self, kind: str, message: bytes) -> None:
        if kind != "queued":
            return
        with contextlib.suppress(Exception):
            target = bytes(decode_message(message).recipient)
            if target not in self._waking:
                self._waking.add(target)
                self._tasks.append(asyncio.create_task(self._wake(target)))

    async def _wake(self, target: bytes) -> None:
        """A virtual gas meter's next wake-up, brought forward to now in virtual time."""
        try:
            await asyncio.sleep(0)
            for premises in self.premises:
                device = premises.devices.get(target)
                if isinstance(device, Gsme):
                    if isinstance(self.clock, VirtualClock):
                        self.clock.set(device.next_wake(self.clock.now()))
                        await premises.runner_for(device.eui).wake(listen=0.05)
                    return
        finally:
            self._waking.discard(target)


def _live_history(
    premises: list[Premises], clock: VirtualClock, begin: _dt.datetime, end: _dt.datetime
) -> None:
    """Each device lives from `begin` to `end`, so logs and profiles hold data."""
    for p in premises:
        for device in (p.chf, p.gpf, *p.devices.values()):
            clock.set(begin)
            device.warm_up(end)
    clock.set(end)


def _user_id(users: UserRegistry, value: object, role: Role, where: str) -> Eui64 | None:
    if value is None:
        return None
    user = users.get(str(value))
    if user is not None:
        return user.id_for(role)
    try:
        return Eui64(str(value))
    except ValueError:
        raise LabError(f"registration {where}: {value!r} is neither a user nor an EUI-64") from None


def _registration(hub: Eui64, data: dict[str, Any], users: UserRegistry) -> PremisesRegistration:
    reg = PremisesRegistration(hub)
    reg.mpan = data.get("mpan")
    reg.export_mpan = data.get("export_mpan")
    reg.mprn = data.get("mprn")
    roles = {
        "import_supplier": Role.IMPORT_SUPPLIER,
        "export_supplier": Role.EXPORT_SUPPLIER,
        "gas_supplier": Role.GAS_SUPPLIER,
        "electricity_distributor": Role.ELECTRICITY_DISTRIBUTOR,
        "gas_transporter": Role.GAS_TRANSPORTER,
    }
    for key, role in roles.items():
        setattr(reg, key, _user_id(users, data.get(key), role, key))
    agents = data.get("agents") or {}
    for fuel in ("electricity", "gas"):
        for agent in agents.get(fuel) or []:
            eui = _user_id(users, agent, Role.REGISTERED_SUPPLIER_AGENT, f"agents.{fuel}")
            if eui is not None:
                getattr(reg, f"{fuel}_agents").add(bytes(eui))
    reg.lead_supplier = _user_id(users, data.get("lead_supplier"), Role.IMPORT_SUPPLIER, "lead")
    previous = data.get("change_of_supplier") or {}
    if previous:
        reg.change_of_supplier = _dt.date.fromisoformat(str(previous["date"]))
        reg.previous_import_supplier = _user_id(
            users, previous.get("import_supplier"), Role.IMPORT_SUPPLIER, "change_of_supplier"
        )
        reg.previous_gas_supplier = _user_id(
            users, previous.get("gas_supplier"), Role.GAS_SUPPLIER, "change_of_supplier"
        )
    return reg


def _anchor(role: AnchorRole, party: Party) -> TrustAnchor:
    keys = party.keys
    pp = keys.get(KeyUsage.PREPAYMENT_KEY_AGREEMENT)
    return TrustAnchor(
        role,
        party.eui,
        keys[KeyUsage.DIGITAL_SIGNATURE].public_key(),
        keys[KeyUsage.KEY_AGREEMENT].public_key(),
        pp.public_key() if pp is not None else None,
    )


def _anchor_devices(premises: Premises, registration: PremisesRegistration) -> None:
    """Supplier and network operator cells hold the registered users' keys."""
    pki = premises.pki
    devices: list[Device] = [*premises.devices.values(), premises.gpf]
    for device in devices:
        gas = device.device_type in (DeviceType.GSME, DeviceType.GPF)
        supplier = registration.gas_supplier if gas else registration.import_supplier
        operator = registration.gas_transporter if gas else registration.electricity_distributor
        for role, eui in ((AnchorRole.SUPPLIER, supplier), (AnchorRole.NETWORK_OPERATOR, operator)):
            party = pki.parties.get(bytes(eui)) if eui is not None else None
            if party is not None:
                device.anchors.put(_anchor(role, party))
