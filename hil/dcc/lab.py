"""A lab: premises of emulated devices, the DCC users, and the DCC in front of them.

A lab file (YAML, `docs/files.md` has the format) names the users and their user
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
import datetime as _dt
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field

from emulator.clock import Clock, RealClock, VirtualClock
from emulator.devices.anchors import AnchorRole, TrustAnchor
from emulator.devices.base import Device, DeviceType
from emulator.devices.gsme import Gsme
from emulator.errors import GbcsDecodeError, LinkError
from emulator.gbcs import ota
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.han.broker import EmbeddedBroker
from emulator.han.link import BACKENDS, scheme_of
from emulator.han.mqtt import parse_mqtt_url
from emulator.hub import Hub
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import Party, TestPki
from emulator.premises import Premises, join_ppmids, lab_pki, premises_install_code
from hil.bench import BenchHooks, ExternalDevice
from hil.dcc.catalogue import Role
from hil.dcc.cpl import Cpl
from hil.dcc.inventory import DeviceKind, Inventory, SmiStatus
from hil.dcc.registration import PremisesRegistration
from hil.dcc.service import Dcc
from hil.dcc.smets1 import Smets1ServiceProvider
from hil.dcc.smets1_site import Smets1Site
from hil.dcc.users import User, UserError, UserRegistry, parse_user_id
from hil.errors import HilError
from hil.files import FileFormatError, FileModel, YamlDocument, parse_yaml, read_yaml, tag
from hil.firmware import IMAGE_TYPES
from hil.fixtures import FIXTURES
from hil.utrn import KeptUtrnCounters, utrn_counter_file

log = logging.getLogger(__name__)

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


#: Real seconds a device under test may take to answer what a lab timer sent it.
EXTERNAL_ANSWER_S = 2.0
#: Real seconds of silence from the devices under test that end that wait.
EXTERNAL_QUIET_S = 0.1


class LabError(HilError, ValueError):
    """A lab that cannot be built or used; the message names the place."""


class LabFileError(FileFormatError, LabError):
    """A lab file that does not describe a lab: `path:line: field: problem`."""


@dataclass
class DeviceSpec:
    kind: DeviceKind
    suffix: int
    status: SmiStatus = SmiStatus.COMMISSIONED
    smets1: bool = False
    model: str = "smets-hil virtual"
    name: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # constructor options (ESME variant)
    external: str | None = None  # the link URL of a device under test (not emulated here)
    hooks: BenchHooks = field(default_factory=BenchHooks)  # bench commands (hil/bench.py)
    hardware_version: int | None = None  # a device under test's, for the hub's OTA check


@dataclass
class PremisesSpec:
    name: str
    base: int
    devices: list[DeviceSpec]
    registration: dict[str, Any]
    postcode: str = ""
    smets1_profile: str | None = None  # a SMETS1 premises: its devices' model profile
    # the hub functions this premises' hub replaced: the DCC holds their log backups
    replaced_chf: Eui64 | None = None
    replaced_gpf: Eui64 | None = None


def _pair_with_boards(premises: Premises, base: int, devices: Sequence[DeviceSpec]) -> None:
    """A commissioned PPMID is joined to a meter under test as to an emulated one: it
    reaches it over the HAN (ZSE frames, emulator/devices/han_consumer.py); the board
    holds the other half of the pairing, as the lab built it (`smets-hil device`)."""
    from emulator.devices.han_devices import FUEL_TYPE_NUMBERS, Ppmid

    for d in devices:
        if d.external is None or d.kind.value not in FUEL_TYPE_NUMBERS:
            continue
        for ppmid in premises.devices.values():
            if isinstance(ppmid, Ppmid):
                ppmid.han_pairings[bytes(Eui64(base | d.suffix))] = FUEL_TYPE_NUMBERS[d.kind.value]


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
        """A lab from YAML text; `where` names it in errors (`where:line: field: problem`)."""
        return cls.from_document(parse_yaml(text, where, LabFileError))

    @classmethod
    def from_file(cls, path: str | Path) -> LabSpec:
        return cls.from_document(read_yaml(path, LabFileError))

    @classmethod
    def from_document(cls, doc: YamlDocument) -> LabSpec:
        data = doc.validate(LabFile)
        _check_lab(doc, data)
        users = {name: _user_ids(entry) for name, entry in data.users.items()}
        premises = []
        for index, p in enumerate(data.premises, start=1):
            devices = [
                DeviceSpec(
                    DeviceKind.parse(d.type),
                    int(d.suffix, 16),
                    SmiStatus.parse(d.status),
                    d.smets1,
                    d.model,
                    d.name,
                    {
                        k: v
                        for k, v in (("variant", d.variant), ("auxiliary", d.auxiliary))
                        if v is not None
                    },
                    d.link if d.external else None,
                    BenchHooks(**d.hooks.model_dump()) if d.hooks is not None else BenchHooks(),
                    d.hardware_version,
                )
                for d in p.devices
            ]
            premises.append(
                PremisesSpec(
                    p.name if p.name is not None else f"premises {index}",
                    int(p.base, 0),
                    devices,
                    p.registration.model_dump(exclude_unset=True),
                    p.postcode,
                    p.smets1_profile,
                    *(
                        (None, None)
                        if p.replaced_hub is None
                        else (
                            _optional_eui(p.replaced_hub.chf),
                            _optional_eui(p.replaced_hub.gpf),
                        )
                    ),
                )
            )
        return cls(
            name=data.name if data.name is not None else doc.path,
            seed=data.seed,
            start=data.start,
            virtual=data.clock == "virtual",
            link=data.link,
            users=users,
            premises=premises,
            wake_interval=_dt.timedelta(seconds=data.wake_interval_s),
            response_timeout=data.response_timeout_s,
            history_days=data.history_days,
        )


# -- the lab file format (docs/files.md) ----------------------------------------------------


def _checked(parse: Callable[[str], object]) -> AfterValidator:
    """A string field that must parse; the string itself is kept."""

    def check(value: str) -> str:
        parse(value)
        return value

    return AfterValidator(check)


def _optional_eui(text: str | None) -> Eui64 | None:
    return None if text is None else Eui64(text)


def _suffix(text: str) -> int:
    if not re.fullmatch(r"[0-9A-Fa-f]{1,2}", text):
        raise ValueError(f"must be the EUI-64's last octet in hex (e.g. A0), got {text!r}")
    return int(text, 16)


def _base(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError(f"must be an EUI-64 as a hex number (0x...), got {text!r}") from None
    if not 0 <= value < 1 << 64 or value & 0xFF:
        raise ValueError(f"must be 64 bits with a last octet of 00 (the suffix), got {text}")
    return value


def _smets1_profile(text: str) -> str:
    from hil.dcc.smets1_profiles import profile

    profile(text)
    return text


def _esme_variant(text: str) -> str:
    from emulator.devices.esme import VARIANTS

    if text not in VARIANTS:
        raise ValueError(f"ESME variant {text!r}: expected one of {', '.join(VARIANTS)}")
    return text


def _link_url(value: str) -> str:
    """A link URL is checked when the file is read, so its error names the line."""
    if value == EMBEDDED_MQTT:
        return value
    scheme = scheme_of(value)
    if scheme not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise ValueError(f"unknown link scheme {scheme!r} (known: {known}, {EMBEDDED_MQTT})")
    if scheme == "mqtt":
        try:
            parse_mqtt_url(value)
        except LinkError as exc:
            raise ValueError(str(exc)) from None
    return value


def _timestamp(value: object) -> _dt.datetime:
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    if not isinstance(value, _dt.datetime):
        raise ValueError(f"must be an ISO 8601 time, got {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.UTC)


def _date(value: object) -> _dt.date:
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 date: {value!r}") from None
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value
    raise ValueError(f"must be a date (YYYY-MM-DD), got {value!r}")


RoleName = Annotated[str, _checked(Role.parse)]
UserIdText = Annotated[str, _checked(parse_user_id)]


def _roles_shape(value: object) -> str | None:
    if isinstance(value, dict):
        return "role: id"
    if isinstance(value, list):
        return "list of roles"
    return None


class UserEntry(FileModel):
    roles: Annotated[
        Annotated[dict[RoleName, UserIdText], tag("role: id")]
        | Annotated[list[RoleName], tag("list of roles")],
        Discriminator(
            _roles_shape,
            custom_error_type="roles_shape",
            custom_error_message="give roles as {role: id}, or as a list of roles with id",
        ),
    ]
    id: UserIdText | None = None


class HooksEntry(FileModel):
    """Bench commands for one device (hil/bench.py, docs/hardware.md)."""

    power_cycle: str | None = None
    reset: str | None = None
    console: str | None = None
    set_clock: str | None = None
    set_load: str | None = None
    han_join: str | None = None
    reset_han: str | None = None


class DeviceEntry(FileModel):
    type: Annotated[str, _checked(DeviceKind.parse)]
    suffix: Annotated[str, _checked(_suffix)]
    status: Annotated[str, _checked(SmiStatus.parse)] = "commissioned"
    smets1: bool = False
    model: str = "smets-hil virtual"
    name: str = ""
    variant: Annotated[str, _checked(_esme_variant)] | None = None
    auxiliary: bool | None = None
    external: bool = False  # a device under test on `link`, not emulated (docs/hardware.md)
    link: Annotated[str, AfterValidator(_link_url)] | None = None
    hooks: HooksEntry | None = None
    #: A device under test's hardware version, which the hub checks an OTA image's
    #: range against (as the SMI's device model tells a DCC); unset: not checked.
    hardware_version: int | None = None


class AgentsEntry(FileModel):
    electricity: list[str] = []
    gas: list[str] = []


class ChangeOfSupplierEntry(FileModel):
    date: Annotated[_dt.date, BeforeValidator(_date)]
    import_supplier: str | None = None
    gas_supplier: str | None = None


class RegistrationEntry(FileModel):
    mpan: str | None = None
    export_mpan: str | None = None
    mprn: str | None = None
    import_supplier: str | None = None
    export_supplier: str | None = None
    gas_supplier: str | None = None
    electricity_distributor: str | None = None
    gas_transporter: str | None = None
    lead_supplier: str | None = None
    agents: AgentsEntry | None = None
    change_of_supplier: ChangeOfSupplierEntry | None = None
    csp_region: str = "Central"
    wan_coverage: str = "Connected"


class ReplacedHubEntry(FileModel):
    """A hub this premises' hub replaced (8.12.x name it as OldCHFID / OldGPFID)."""

    chf: Annotated[str, _checked(Eui64)] | None = None
    gpf: Annotated[str, _checked(Eui64)] | None = None


class PremisesEntry(FileModel):
    name: str | None = None
    postcode: str = ""
    base: Annotated[str, _checked(_base)] = "0x00DB123456789000"
    devices: list[DeviceEntry] = []
    registration: RegistrationEntry = RegistrationEntry()
    smets1_profile: Annotated[str, _checked(_smets1_profile)] | None = None
    replaced_hub: ReplacedHubEntry | None = None


class LabFile(FileModel):
    """A lab file; docs/files.md describes every field."""

    name: str | None = None
    seed: str = "smets-hil-lab"
    clock: Literal["virtual", "real"] = "virtual"
    start: Annotated[_dt.datetime, BeforeValidator(_timestamp)] = _dt.datetime(
        2026, 1, 5, 9, tzinfo=_dt.UTC
    )
    link: Annotated[str, AfterValidator(_link_url)] = "memory://lab"
    wake_interval_s: Annotated[float, Field(gt=0)] = 1800.0
    response_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    history_days: Annotated[float, Field(ge=0)] = 0.0
    users: dict[str, UserEntry] = {}
    premises: list[PremisesEntry] = []


#: Registration fields that name a user, and the role that user must hold.
REGISTRATION_ROLES: dict[str, Role] = {
    "import_supplier": Role.IMPORT_SUPPLIER,
    "export_supplier": Role.EXPORT_SUPPLIER,
    "gas_supplier": Role.GAS_SUPPLIER,
    "electricity_distributor": Role.ELECTRICITY_DISTRIBUTOR,
    "gas_transporter": Role.GAS_TRANSPORTER,
    "lead_supplier": Role.IMPORT_SUPPLIER,
}

#: The hub's two functions have fixed EUI-64s: base | A2 and base | A3.
HUB_SUFFIX = {DeviceKind.CHF: 0xA2, DeviceKind.GPF: 0xA3}


def _user_ids(entry: UserEntry) -> dict[Role, Eui64]:
    if isinstance(entry.roles, dict):
        return {Role.parse(r): Eui64(v) for r, v in entry.roles.items()}
    assert entry.id is not None  # _check_lab
    return {Role.parse(r): Eui64(entry.id) for r in entry.roles}


def _check_lab(doc: YamlDocument, data: LabFile) -> None:
    """What one field cannot say: shapes that depend on another field, duplicates, references."""
    registry = UserRegistry()
    for name, entry in data.users.items():
        place: tuple[str | int, ...] = ("users", name)
        if isinstance(entry.roles, list) and entry.id is None:
            raise doc.error((*place, "id"), "a list of roles needs the user ID they share")
        if isinstance(entry.roles, dict) and entry.id is not None:
            raise doc.error((*place, "id"), "give either roles: {role: id} or roles: [...] + id")
        try:
            registry.add(name, _user_ids(entry))
        except UserError as exc:
            raise doc.error((*place, "id" if entry.id is not None else "roles"), str(exc)) from None
    if not data.premises:
        raise doc.error(("premises",), "a lab needs at least one premises")
    euis: dict[int, tuple[str | int, ...]] = {}
    names: dict[str, tuple[str | int, ...]] = {}
    premises_names: dict[str, int] = {}
    for i, p in enumerate(data.premises):
        here: tuple[str | int, ...] = ("premises", i)
        pname = p.name if p.name is not None else f"premises {i + 1}"
        if pname in premises_names:
            raise doc.error((*here, "name"), f"premises {pname!r} is named twice")
        premises_names[pname] = i
        base = int(p.base, 0)
        kinds = [DeviceKind.parse(d.type) for d in p.devices]
        for hub_kind in HUB_SUFFIX:
            if p.smets1_profile is not None and hub_kind == DeviceKind.GPF:
                if hub_kind in kinds:  # a SMETS1 hub hosts no GBCS gas proxy
                    raise doc.error((*here, "devices"), "a SMETS1 premises has no GPF")
                continue
            if kinds.count(hub_kind) != 1:
                found = kinds.count(hub_kind)
                raise doc.error((*here, "devices"), f"needs exactly one {hub_kind}, found {found}")
        for j, (d, kind) in enumerate(zip(p.devices, kinds, strict=True)):
            at: tuple[str | int, ...] = (*here, "devices", j)
            suffix = int(d.suffix, 16)
            if kind in HUB_SUFFIX and suffix != HUB_SUFFIX[kind]:
                raise doc.error(
                    (*at, "suffix"), f"a {kind} is always {HUB_SUFFIX[kind]:02X} of the base"
                )
            for key in ("variant", "auxiliary"):
                if getattr(d, key) is not None and kind != DeviceKind.ESME:
                    raise doc.error((*at, key), f"applies to an ESME, not a {kind}")
                if getattr(d, key) is not None and p.smets1_profile is not None:
                    raise doc.error((*at, key), "applies to a SMETS2 ESME (SMETS1: the profile)")
            if d.external and kind not in EMULATED:
                raise doc.error((*at, "external"), f"a {kind} cannot be external (the hub is ours)")
            if d.external and d.link is None:
                raise doc.error((*at, "link"), "an external device needs the link it is on")
            if d.link is not None and not d.external:
                raise doc.error((*at, "link"), "only an external device has its own link")
            if d.link is not None and d.link == EMBEDDED_MQTT:
                raise doc.error((*at, "link"), f"{EMBEDDED_MQTT} is for the lab's link only")
            if d.hooks is not None and not d.external:
                raise doc.error((*at, "hooks"), "bench hooks are for an external device")
            eui = base | suffix
            if eui in euis:
                first = doc.locate(euis[eui])
                raise doc.error(
                    (*at, "suffix"), f"device {Eui64(eui)} is already {first[1]} (line {first[0]})"
                )
            euis[eui] = at
            if d.name:
                if d.name in names:
                    first = doc.locate(names[d.name])
                    raise doc.error(
                        (*at, "name"), f"device name {d.name!r} is already used (line {first[0]})"
                    )
                names[d.name] = (*at, "name")
        _check_registration(doc, (*here, "registration"), p.registration, registry)


def _check_registration(
    doc: YamlDocument, here: tuple[str | int, ...], reg: RegistrationEntry, users: UserRegistry
) -> None:
    refs: list[tuple[tuple[str | int, ...], str | None, Role]] = [
        ((*here, key), getattr(reg, key), role) for key, role in REGISTRATION_ROLES.items()
    ]
    if reg.agents is not None:
        for fuel in ("electricity", "gas"):
            for k, agent in enumerate(getattr(reg.agents, fuel)):
                refs.append(((*here, "agents", fuel, k), agent, Role.REGISTERED_SUPPLIER_AGENT))
    if reg.change_of_supplier is not None:
        change = (*here, "change_of_supplier")
        refs.append(
            (
                (*change, "import_supplier"),
                reg.change_of_supplier.import_supplier,
                Role.IMPORT_SUPPLIER,
            )
        )
        refs.append(
            ((*change, "gas_supplier"), reg.change_of_supplier.gas_supplier, Role.GAS_SUPPLIER)
        )
    for loc, value, role in refs:
        if value is None:
            continue
        user = users.get(value)
        if user is not None:
            if role not in user.roles:
                held = ", ".join(sorted(user.roles))
                raise doc.error(
                    loc, f"user {value!r} does not hold the role {role} (holds: {held})"
                )
            continue
        try:
            Eui64(value)
        except ValueError:
            known = ", ".join(u.name for u in users) or "none"
            raise doc.error(
                loc, f"{value!r} is neither a user (known: {known}) nor an EUI-64"
            ) from None


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
    #: What the lab dropped instead of raising (undecodable queued commands, failed
    #: background tasks at stop), by kind; each one is also logged.
    dropped: Counter[str] = field(default_factory=Counter)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _waking: set[bytes] = field(default_factory=set)
    #: SMETS1 premises (vendor protocol, reached through the S1SP), docs/smets1.md.
    smets1_sites: list[Smets1Site] = field(default_factory=list)
    smets1: Smets1ServiceProvider | None = None
    #: Devices under test (`external: true`), by EUI: on their own link, not emulated here.
    externals: dict[bytes, ExternalDevice] = field(default_factory=dict)
    _external_premises: dict[bytes, int] = field(default_factory=dict)

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def load(
        cls, path: str | Path = DEFAULT_LAB, *, clock: Clock | None = None, link: str | None = None
    ) -> Lab:
        """A lab from its file; `link` overrides the file's HAN link."""
        spec = LabSpec.from_file(path)
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
        smets1_sites: list[Smets1Site] = []
        externals: dict[bytes, tuple[int, ExternalDevice]] = {}
        for p in spec.premises:
            if p.smets1_profile is not None:
                site = Smets1Site.from_spec(p, spec.seed, clock, inventory, names)
                reg = registrations[bytes(site.hub_eui)] = _registration(
                    site.hub_eui, p.registration, users
                )
                reg.postcode = p.postcode
                smets1_sites.append(site)
                continue
            emulated = tuple(
                (EMULATED[d.kind], d.suffix, d.options) for d in p.devices if d.kind in EMULATED
            )
            premises = Premises.build(
                seed=spec.seed, base=p.base, devices=emulated, clock=clock, pki=(pki, parties)
            )
            for device in premises.devices.values():
                if isinstance(device, Gsme):
                    device.wake_interval = spec.wake_interval
            for d in p.devices:
                if d.external is not None:  # a device under test: the hub reaches it on its link
                    dut = Eui64(p.base | d.suffix)
                    premises.devices.pop(bytes(dut), None)
                    name = d.name or d.kind.value
                    externals[bytes(dut)] = (
                        len(built),
                        ExternalDevice(
                            name,
                            dut,
                            d.external,
                            d.hooks,
                            kind=d.kind.value,
                            hardware_version=d.hardware_version,
                        ),
                    )
            if any(
                d.kind == DeviceKind.PPMID and d.status == SmiStatus.COMMISSIONED for d in p.devices
            ):
                join_ppmids(premises.devices)  # a commissioned PPMID is joined to the meters
                _pair_with_boards(premises, p.base, p.devices)
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
                    elements=2 if d.options.get("variant") == "twin" else 1,
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
        lab = cls(spec, clock, pki, users, inventory, built, registrations, names)
        lab.smets1_sites = smets1_sites
        lab.externals = {key: device for key, (_, device) in externals.items()}
        lab._external_premises = {key: index for key, (index, _) in externals.items()}
        return lab

    # -- running ------------------------------------------------------------------------------
    async def start(self) -> Dcc:
        """Connect everything; if any part fails, what was started is stopped again."""
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> Dcc:
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
            # a PPMID's ZSE frame for a sleeping GSME waits one wake interval: keep two
            hub.zse_hold = 2 * self.spec.wake_interval.total_seconds()
            hub.on_zse_held = self._wake_soon  # a PPMID under test asking a gas meter
            hubs[bytes(premises.chf.eui)] = hub
            for key, external in self.externals.items():
                if self._external_premises[key] == index:
                    if self.inventory[external.eui].kind == DeviceKind.GSME:
                        hub.register_sleepy(external.eui)
                    await external.start(hub)
            if not isinstance(self.clock, VirtualClock):
                for runner in premises.runners:
                    if isinstance(runner.device, Gsme):
                        self._tasks.append(asyncio.create_task(runner.run_sleepy(0.2)))
        # a lab of SMETS1 premises only still has the DCC's parties (same seed, same keys)
        parties = self.premises[0].parties if self.premises else lab_pki(self.spec.seed)[1]
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
        if self.externals:
            self.dcc.counter_offset = external_counter_offset(RealClock().now(), self.clock.now())
            # A board remembers UTRN counters too, and only takes the next ones (hil/utrn.py).
            self.dcc.utrn_counters = KeptUtrnCounters(utrn_counter_file(), self.externals)
        self.dcc.firmware_delivery = self._deliver_firmware
        self._hold_replaced_hub_backups(self.dcc)
        self.dcc.cpl = Cpl.from_csv()  # the lab's CPL (hil/fixtures/cpl.csv)
        # A board of ours has the lab's install code, as the emulated devices do.
        codes = {key: premises_install_code(key[-1]) for key in self.externals}
        codes.update(
            (eui, device.han.install_code)
            for premises in self.premises
            for eui, device in premises.devices.items()
            if device.han.install_code
        )
        self.dcc.install_codes = codes
        self.dcc.response_timeout = self.spec.response_timeout
        if self.smets1_sites:
            self.smets1 = Smets1ServiceProvider(self.dcc, f"{base}-smets1")
            for site in self.smets1_sites:
                await site.start(f"{base}-smets1")
                self.smets1.add_premises(site.hub_eui, site.device_euis, site.profile)
            await self.smets1.start()
            self.dcc.smets1 = self.smets1
        await self.dcc.start()
        return self.dcc

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        outcomes = await asyncio.gather(*self._tasks, return_exceptions=True)
        for task, outcome in zip(self._tasks, outcomes, strict=True):
            if isinstance(outcome, Exception) and not isinstance(outcome, asyncio.CancelledError):
                self._drop("background task failed", f"{task.get_name()}: {outcome!r}")
        self._tasks.clear()
        if self.dcc is not None:
            await self.dcc.stop()
        if self.smets1 is not None:
            await self.smets1.stop()
        for site in self.smets1_sites:
            await site.stop()
        for external in self.externals.values():
            await external.stop()
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

    def external(self, name: str | Eui64) -> ExternalDevice | None:
        """The device under test of that name, None for an emulated one."""
        return self.externals.get(bytes(self.eui(name)))

    def device(self, name: str | Eui64) -> Device | None:
        key = bytes(self.eui(name))
        for site in self.smets1_sites:
            if key in site.devices:
                return site.devices[key]  # type: ignore[return-value]  # duck-typed state
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
            sent = self._external_traffic()
            self.clock.set(due)
            if self.dcc is not None:
                await self.dcc.settle()
            else:
                await asyncio.sleep(0)
            await self._external_answers(sent)
        self.clock.set(max(end, self.clock.now()))  # a fault injector may have moved it on
        if self.dcc is not None:
            await self.dcc.settle()

    def _hold_replaced_hub_backups(self, dcc: Dcc) -> None:
        """A premises whose hub replaced another starts as after the swap: the DCC holds
        the old hub's log backups (the last CS14 / GCS62 it sent), which name the
        devices now on the new hub, for 8.12.1 / 8.12.2 to restore."""
        emulated = [p for p in self.spec.premises if p.smets1_profile is None]
        for spec, premises in zip(emulated, self.premises, strict=True):
            if spec.replaced_chf is not None:
                dcc.backups.chf[bytes(spec.replaced_chf)] = [
                    (e.eui, e.link_key_hash) for e in premises.chf.log.entries.values()
                ]
            if spec.replaced_gpf is not None:
                dcc.backups.gpf[bytes(spec.replaced_gpf)] = [
                    (Eui64(eui), kind) for eui, kind in premises.gpf.han_pairings.items()
                ]

    def _external_traffic(self) -> tuple[int, int]:
        """Envelopes sent to and received from the devices under test so far."""
        links = [e.link for e in self.externals.values() if e.link is not None]
        return sum(k.counters.sent for k in links), sum(k.counters.received for k in links)

    async def _external_answers(self, before: tuple[int, int]) -> None:
        """A timer sent something to a board: give it real time to answer before the next.

        A board works in real time while the lab's clock jumps: without this a hub's
        retry timer (a firmware offer) fires again before the board could answer the
        first. Waits until nothing more came back for `EXTERNAL_QUIET_S`, at most
        `EXTERNAL_ANSWER_S`.
        """
        if not self.externals or self._external_traffic()[0] == before[0]:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EXTERNAL_ANSWER_S
        seen, quiet_since = self._external_traffic(), loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(0.02)
            now = self._external_traffic()
            if now != seen:
                seen, quiet_since = now, loop.time()
            elif now[1] > before[1] and loop.time() - quiet_since >= EXTERNAL_QUIET_S:
                break
        if self.dcc is not None:
            await self.dcc.settle()

    def _deliver_firmware(
        self, eui: Eui64, image_hash: bytes, version: str, ota_file: bytes | None
    ) -> None:
        device = self.device(eui)
        external = self.externals.get(bytes(eui))
        if external is not None and ota_file is not None:
            hub = self.premises[self._external_premises[bytes(eui)]].hub
            if hub is not None:  # checked against the lab file's, if it names one
                signed = ota.signed_for(external.kind) if external.kind else True
                hub.distribute(eui, ota_file, external.hardware_version, signed)
            return
        for premises in self.premises:
            hub = premises.hub
            if ota_file is not None and hub is not None and bytes(eui) in premises.devices:
                # the hub checks it and moves it in blocks; CCS08 reports the outcome
                target = premises.devices[bytes(eui)]
                kind = target.device_type.value
                signed = ota.signed_for(kind)
                if hub.distribute(
                    eui, ota_file, target.hardware_version, signed, IMAGE_TYPES.get(kind)
                ) is None and isinstance(target, Gsme):
                    self._tasks.append(asyncio.create_task(self._wake_for_firmware(hub, target)))
                return
        if device is not None:
            device.pending_image_hash = image_hash
            device.pending_image_version = version
            device.held_image = ota_file  # the OTA file, checked again at activation

    def _on_hub_event(self, kind: str, message: bytes) -> None:
        if kind != "queued":
            return
        try:
            target = bytes(decode_message(message).recipient)
        except GbcsDecodeError as exc:  # the hub queued it; we cannot tell whom to wake
            self._drop("undecodable queued command", str(exc))
            return
        self._wake_soon(target)

    def _wake_soon(self, target: bytes) -> None:
        """Bring a virtual gas meter's next wake-up forward for what the hub holds for it."""
        if target not in self._waking:
            self._waking.add(target)
            self._tasks.append(asyncio.create_task(self._wake(target)))

    def _drop(self, what: str, detail: str) -> None:
        """Nothing is dropped silently: `Lab.dropped` counts it, the log says what it was."""
        self.dropped[what] += 1
        log.warning("lab %s: %s dropped: %s", self.spec.name, what, detail)

    async def _wake(self, target: bytes) -> None:
        """A virtual gas meter's next wake-up, brought forward to now in virtual time."""
        try:
            await asyncio.sleep(0)
            for premises in self.premises:
                device = premises.devices.get(target)
                if isinstance(device, Gsme):
                    if isinstance(self.clock, VirtualClock):
                        hub = premises.hub
                        for _ in range(8):  # a command queued during this wake-up: the next
                            self.clock.set(device.next_wake(self.clock.now()))
                            await premises.runner_for(device.eui).wake(listen=0.05)
                            if hub is None or not (
                                hub.waiting_for(device.eui) or hub.zse_waiting_for(device.eui)
                            ):
                                break
                    return
        finally:
            self._waking.discard(target)

    async def _wake_for_firmware(self, hub: Hub, gsme: Gsme, most: int = 1000) -> None:
        """Wake a virtual gas meter on its schedule until the hub's transfer to it ends."""
        target = bytes(gsme.eui)
        for _ in range(most):
            if target not in hub.ota.transfers or not isinstance(self.clock, VirtualClock):
                return
            while target in self._waking:  # a command's wake-up is under way
                await asyncio.sleep(0.01)
            self._waking.add(target)
            await self._wake(target)


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


_last_epoch = 0  # the wall-clock second the last lab with a device under test numbered from


def external_counter_offset(wall: _dt.datetime, lab_now: _dt.datetime) -> int:
    """What a lab with a device under test adds to its originator counters.

    A board keeps the highest counter it accepted from each user, across runs, while
    every run of a lab file starts its virtual clock at the same time: counters from
    that clock alone repeat, and the board refuses them as replays (silently, as GBCS
    has it). The wall clock's seconds in the upper 32 bits (one more than the last
    lab's in this process, for labs started within one second), the lab's
    milliseconds since its start below, rise from run to run (each moving its clock
    less than 2**32 ms, 49 days) and keep their order within a run, future-dated
    commands included.
    """
    global _last_epoch
    epoch = max(int(wall.timestamp()), _last_epoch + 1)
    _last_epoch = epoch
    return (epoch << 32) - int(lab_now.timestamp() * 1000)
