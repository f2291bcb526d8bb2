"""The Smart Metering Inventory (SMI): devices, their status, and what changes it.

Statuses are the DUIS `DeviceStatus` values. The transitions follow SEC H5/H6
and the DUIS inventory services; where the SEC text delegates the detail to the
Inventory, Enrolment and Decommissioning Procedures, the rule we chose is
written next to the method (and in docs/dcc.md):

==============================  ===============================  =======================
trigger                         change                           rule
==============================  ===============================  =======================
12.2 Device Pre-notification    (none) -> pending                 H3.10(b)
8.11 add to CHF Device Log      pending -> whitelisted            device log = whitelist
                                (a meter: its MPxNs recorded)
8.11 remove from the log        whitelisted -> pending            never joined: nothing
                                                                  kept (CCS02)
8.12.1 restore CHF Device Log   listed devices move to that CHF,  a replaced hub
                                pending -> whitelisted
8.14.1 CH install success       CHF commissioned, GPF INC         SM WAN is up in a lab
8.14.2 CH install, no SM WAN    CHF and GPF INC                   -
8.14.3/8.14.4 CH returned       CHF and GPF withdrawn             -
8.7 join succeeds               whitelisted -> INC                device is on the HAN
8.7 join, partner not logged    refused PARTNER_NOT_IN_DEVICE_LOG a pending, withdrawn or
                                (nothing sent)                    decommissioned partner
8.1.1 Commission Device         INC -> commissioned               CHF first (H5.2), on
                                                                  the SMI (H5.3)
8.3 Decommission Device         -> decommissioned, associations   H6.4; the GPF follows
                                removed                           its CHF (H6.6)
model removed from the CPL      -> suspended (CH: CHF and GPF)    H6.10, H6.11
8.4 Update Inventory            pending <-> INC; CH: INC,         DUIS UpdateDeviceStatus
                                commissioned, withdrawn; a
                                meter's MPxN (UpdateMPxN)
8.5 Service Opt Out succeeds    -> withdrawn (status before kept) off DCC services, on
                                                                  site (SEC fn 18, H6.7)
8.6 Service Opt In              withdrawn -> the status before    from the OptInDate
                                withdrawal (none kept: INC);
                                the meter's MPxNs recorded
SMKI recovery                   -> recovery -> recovered          lab API only
==============================  ===============================  =======================

Listeners hear every change, so the request processor can cancel future-dated
and scheduled requests for devices that become decommissioned or suspended.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from emulator.gbcs.eui import Eui64


class SmiStatus(StrEnum):
    PENDING = "pending"
    WHITELISTED = "whitelisted"
    INSTALLED_NOT_COMMISSIONED = "installed-not-commissioned"
    COMMISSIONED = "commissioned"
    DECOMMISSIONED = "decommissioned"
    WITHDRAWN = "withdrawn"
    SUSPENDED = "suspended"
    RECOVERY = "recovery"
    RECOVERED = "recovered"

    @property
    def duis(self) -> str:
        """The DUIS spelling (`InstalledNotCommissioned`)."""
        return "".join(part.capitalize() for part in self.value.split("-"))

    @classmethod
    def parse(cls, text: str) -> SmiStatus:
        key = re.sub(r"[\s_-]+", "", text.strip()).lower()
        for status in cls:
            if key == status.value.replace("-", ""):
                return status
        raise ValueError(
            f"unknown SMI status {text!r}; expected one of: " + ", ".join(s.value for s in cls)
        )


class DeviceKind(StrEnum):
    CHF = "CHF"
    GPF = "GPF"
    ESME = "ESME"
    GSME = "GSME"
    PPMID = "PPMID"
    IHD = "IHD"
    HCALCS = "HCALCS"
    TYPE2 = "TYPE2"  # a Type 2 device other than an IHD (a consumer access device)

    @property
    def fuel(self) -> str | None:
        """'electricity', 'gas' or None for devices that serve both systems."""
        return _FUEL.get(self)

    @property
    def type2(self) -> bool:
        return self in (DeviceKind.IHD, DeviceKind.TYPE2)

    @property
    def hub(self) -> bool:
        return self in (DeviceKind.CHF, DeviceKind.GPF)

    @classmethod
    def parse(cls, text: str) -> DeviceKind:
        key = text.strip().upper().replace("-", "").replace("_", "").replace(" ", "")
        if key == "CAD":
            return cls.TYPE2
        try:
            return cls(key)
        except ValueError:
            raise ValueError(
                f"unknown device type {text!r}; expected one of: " + ", ".join(k for k in cls)
            ) from None


_FUEL = {DeviceKind.ESME: "electricity", DeviceKind.GSME: "gas", DeviceKind.GPF: "gas"}


class InventoryError(ValueError):
    """A change the SMI refuses; `code` is the reason code given to the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class StatusChange:
    at: _dt.datetime
    device: Eui64
    old: SmiStatus | None
    new: SmiStatus
    cause: str


@dataclass
class InventoryDevice:
    eui: Eui64
    kind: DeviceKind
    status: SmiStatus
    model: str = "smets-hil virtual"
    manufacturer: str = "SMHL"
    smets1: bool = False
    hub: Eui64 | None = None  # the CHF this device is associated with
    added_by: Eui64 | None = None  # user ID that pre-notified it
    firmware_version: str = "00000001"
    #: The SMETS / CHTS version a 12.2 pre-notification gave (DUIS `SMETSCHTSVersion`);
    #: without one, 8.2 answers the generation the lab built ("SMETS1" / "SMETS2+").
    smets_chts_version: str | None = None
    commissioned_at: _dt.datetime | None = None
    associations: set[bytes] = field(default_factory=set)
    #: An ESME's metering elements (2: twin element): what the DCC knows of the meter
    #: from installation; a twin ESME's payment mode carries its secondary element's rows.
    elements: int = 1
    #: A hub's installation and return reports as the installer gave them (8.14.x:
    #: install type, location, aerial, obstruction checks, fault reason, ...), each with
    #: its variant, oldest first. The CSP keeps them; no DUIS read returns them (the
    #: v5.4 DSPInventory has none of these fields).
    hub_reports: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    #: A meter's metering points as users gave them (DUIS name -> MPAN / MPRN: 8.11 add,
    #: 8.6 opt in, 8.4 UpdateMPxN); 8.2 answers them and finds the meter by them.
    #: Registration data (who supplies the point) is the premises'
    #: (`hil.dcc.registration`), not the device's.
    mpxns: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, str]:
        """A Read Inventory (8.2) record, with DUIS field names."""
        out = {
            "DeviceID": str(self.eui),
            "DeviceType": "CAD" if self.kind == DeviceKind.TYPE2 else self.kind.value,
            "DeviceStatus": self.status.duis,
            "DeviceManufacturer": self.manufacturer,
            "DeviceModel": self.model,
            "SMETSCHTSVersion": self.smets_chts_version or ("SMETS1" if self.smets1 else "SMETS2+"),
            "DeviceFirmwareVersion": self.firmware_version,
        }
        if self.hub is not None:
            out["CHFID"] = str(self.hub)
        if self.commissioned_at is not None:
            out["DateCommissioned"] = self.commissioned_at.date().isoformat()
        out.update((name, self.mpxns[name]) for name in MPXN_FIELDS if name in self.mpxns)
        return out


Listener = Callable[[StatusChange], None]

#: A meter's metering points on its SMI record (DUIS names): the import MPAN or MPRN,
#: a twin ESME's secondary import MPAN, an export MPAN.
MPXN_FIELDS = ("ImportMPxN", "SecondaryImportMPAN", "ExportMPAN")
#: The DCC layer's request parameters for them (`Dcc.submit(params=...)`).
MPXN_PARAMS = {
    "import_mpxn": "ImportMPxN",
    "secondary_import_mpan": "SecondaryImportMPAN",
    "export_mpan": "ExportMPAN",
}


def mpxns_of(params: Mapping[str, Any]) -> dict[str, str]:
    """The metering points a request's parameters give, by DUIS name."""
    return {duis: str(params[name]) for name, duis in MPXN_PARAMS.items() if name in params}


#: The devices whose record holds metering points: smart meters (SEC H8.16(a)(ii):
#: a search by MPAN / MPRN returns the smart meter and the devices associated with it).
METERS = frozenset({DeviceKind.ESME, DeviceKind.GSME})

#: Statuses of a device that is not on a HAN: never added to a CHF Device Log
#: (pending), or gone from it (decommissioned, withdrawn). It cannot be joined.
NOT_ON_HAN = frozenset({SmiStatus.PENDING, SmiStatus.DECOMMISSIONED, SmiStatus.WITHDRAWN})

#: 8.4 Update Inventory: the statuses a user may set (DUIS UpdateDeviceStatus types).
UPDATABLE_EXCEPT_CH = frozenset({SmiStatus.PENDING, SmiStatus.INSTALLED_NOT_COMMISSIONED})
UPDATABLE_CH = frozenset(
    {SmiStatus.COMMISSIONED, SmiStatus.WITHDRAWN, SmiStatus.INSTALLED_NOT_COMMISSIONED}
)


class Inventory:
    """The SMI of a lab: every device the DCC knows, by EUI-64."""

    def __init__(self, now: Callable[[], _dt.datetime]) -> None:
        self._now = now
        self._devices: dict[bytes, InventoryDevice] = {}
        #: Devices 8.4 DeleteDevice took off the SMI, with when.
        self.deleted: list[tuple[_dt.datetime, InventoryDevice]] = []
        self._listeners: list[Listener] = []
        self.history: list[StatusChange] = []
        #: Each withdrawn device's status before 8.5 withdrew it, for 8.6 to return to.
        self.before_withdrawal: dict[bytes, SmiStatus] = {}

    # -- lookup ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[InventoryDevice]:
        return iter(self._devices.values())

    def __len__(self) -> int:
        return len(self._devices)

    def __contains__(self, eui: object) -> bool:
        return isinstance(eui, bytes) and bytes(eui) in self._devices

    def get(self, eui: Eui64 | bytes | str) -> InventoryDevice | None:
        return self._devices.get(bytes(Eui64(eui)))

    def __getitem__(self, eui: Eui64 | bytes | str) -> InventoryDevice:
        found = self.get(eui)
        if found is None:
            raise InventoryError("DEVICE_NOT_IN_INVENTORY", f"{Eui64(eui)} is not on the SMI")
        return found

    def on_hub(self, chf: Eui64 | bytes) -> list[InventoryDevice]:
        """Devices associated with the CHF `chf` (and the CHF itself)."""
        key = bytes(chf)
        return [d for d in self if bytes(d.eui) == key or (d.hub is not None and d.hub == key)]

    def associated(self, eui: Eui64 | bytes) -> list[InventoryDevice]:
        """The transitive association neighbourhood of a device (H8.16(a)(i))."""
        seen: set[bytes] = set()
        todo = [bytes(eui)]
        while todo:
            key = todo.pop()
            if key in seen or key not in self._devices:
                continue
            seen.add(key)
            todo.extend(self._devices[key].associations)
        return [self._devices[k] for k in seen]

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- changes --------------------------------------------------------------------------
    def _set(self, device: InventoryDevice, status: SmiStatus, cause: str) -> None:
        if device.status == status:
            return
        change = StatusChange(self._now(), device.eui, device.status, status, cause)
        device.status = status
        if status == SmiStatus.COMMISSIONED:
            device.commissioned_at = change.at
        self.history.append(change)
        for listener in self._listeners:
            listener(change)

    def add(
        self,
        eui: Eui64 | str,
        kind: DeviceKind,
        status: SmiStatus = SmiStatus.PENDING,
        *,
        hub: Eui64 | str | None = None,
        cause: str = "lab",
        model: str = "smets-hil virtual",
        smets1: bool = False,
        added_by: Eui64 | None = None,
        elements: int = 1,
        manufacturer: str = "SMHL",
        firmware_version: str = "00000001",
        smets_chts_version: str | None = None,
    ) -> InventoryDevice:
        """Put a device on the SMI (a lab file, or pre-notification via `pre_notify`)."""
        key = Eui64(eui)
        if bytes(key) in self._devices:
            raise InventoryError("DEVICE_ALREADY_IN_INVENTORY", f"{key} is already on the SMI")
        device = InventoryDevice(
            key,
            kind,
            status,
            model=model,
            smets1=smets1,
            hub=None if hub is None else Eui64(hub),
            added_by=added_by,
            elements=elements,
            manufacturer=manufacturer,
            firmware_version=firmware_version,
            smets_chts_version=smets_chts_version,
        )
        self._devices[bytes(key)] = device
        change = StatusChange(self._now(), key, None, status, cause)
        if status == SmiStatus.COMMISSIONED:
            device.commissioned_at = change.at
        self.history.append(change)
        for listener in self._listeners:
            listener(change)
        if device.hub is not None:
            self.associate(device.eui, device.hub)
        return device

    def associate(self, a: Eui64 | bytes, b: Eui64 | bytes) -> None:
        first, second = self._devices.get(bytes(a)), self._devices.get(bytes(b))
        if first is None or second is None or first is second:
            return
        first.associations.add(bytes(second.eui))
        second.associations.add(bytes(first.eui))

    def dissociate(self, a: Eui64 | bytes, b: Eui64 | bytes) -> None:
        for x, y in ((a, b), (b, a)):
            device = self._devices.get(bytes(x))
            if device is not None:
                device.associations.discard(bytes(y))

    def pre_notify(
        self,
        eui: Eui64 | str,
        kind: DeviceKind,
        *,
        by: Eui64,
        hub: Eui64 | str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> InventoryDevice:
        """12.2: a device a supplier is about to install; a withdrawn one may come back.
        `details` are the inventory fields the notification gives (`manufacturer`,
        `model`, `firmware_version`, `smets_chts_version`, an ESME's `elements`)."""
        existing = self.get(eui)
        if existing is not None:
            if existing.status != SmiStatus.WITHDRAWN:
                raise InventoryError(
                    "DEVICE_ALREADY_IN_INVENTORY",
                    f"{existing.eui} is already on the SMI ({existing.status})",
                )
            existing.added_by = by
            self._set(existing, SmiStatus.PENDING, "12.2 pre-notification")
            return existing
        return self.add(
            eui, kind, SmiStatus.PENDING, hub=hub, added_by=by, cause="12.2", **(details or {})
        )

    def whitelisted(self, eui: Eui64 | bytes, hub: Eui64 | bytes) -> None:
        """8.11 add succeeded: the device is in the CHF Device Log."""
        device = self[bytes(eui)]
        if device.hub is None:
            device.hub = Eui64(hub)
        self.associate(device.eui, hub)
        if device.status == SmiStatus.PENDING:
            self._set(device, SmiStatus.WHITELISTED, "8.11 added to CHF Device Log")

    def removed_from_log(self, eui: Eui64 | bytes, hub: Eui64 | bytes) -> None:
        """8.11 remove succeeded: a whitelisted device (never joined) is pending again;
        one that joined keeps its status (it may be added back and rejoin)."""
        device = self[bytes(eui)]
        if device.status == SmiStatus.WHITELISTED:
            self._set(device, SmiStatus.PENDING, "8.11 removed from CHF Device Log")

    def log_restored(self, chf: Eui64 | bytes, devices: Iterable[Eui64 | bytes]) -> None:
        """8.12.1 restore succeeded: the devices listed are in this CHF's log now (a
        replacement hub), so they belong to it; a pending one is whitelisted."""
        for eui in devices:
            device = self.get(bytes(eui))
            if device is None or bytes(device.eui) == bytes(chf):
                continue
            old = device.hub
            if old is not None and bytes(old) != bytes(chf):
                self.dissociate(device.eui, old)
            device.hub = Eui64(chf)
            self.associate(device.eui, chf)
            if device.status == SmiStatus.PENDING:
                self._set(device, SmiStatus.WHITELISTED, "8.12.1 restored to CHF Device Log")

    def joined(self, eui: Eui64 | bytes, partner: Eui64 | bytes) -> None:
        """8.7 join succeeded: the device is installed on the HAN."""
        device = self[bytes(eui)]
        self.associate(eui, partner)
        if device.status in (SmiStatus.PENDING, SmiStatus.WHITELISTED):
            self._set(device, SmiStatus.INSTALLED_NOT_COMMISSIONED, "8.7 joined")

    def unjoined(self, eui: Eui64 | bytes, partner: Eui64 | bytes) -> None:
        self.dissociate(eui, partner)

    def hub_installed(
        self, chf: Eui64 | bytes, *, wan: bool, report: Mapping[str, str] | None = None
    ) -> None:
        """8.14.1 (SM WAN up: the DCC commissions the CHF) or 8.14.2 (no SM WAN yet)."""
        hub = self[bytes(chf)]
        if hub.kind != DeviceKind.CHF:
            raise InventoryError("DEVICE_TYPE_NOT_APPLICABLE", f"{hub.eui} is not a CHF")
        self._require_not_decommissioned(hub)
        self._set(
            hub,
            SmiStatus.COMMISSIONED if wan else SmiStatus.INSTALLED_NOT_COMMISSIONED,
            "8.14.1 install success" if wan else "8.14.2 install, no SM WAN",
        )
        for gpf in self._gpfs_of(hub):
            if gpf.status in (SmiStatus.PENDING, SmiStatus.WHITELISTED):
                self._set(gpf, SmiStatus.INSTALLED_NOT_COMMISSIONED, "CH installed")
        hub.hub_reports.append(("8.14.1" if wan else "8.14.2", dict(report or {})))

    def hub_returned(
        self, chf: Eui64 | bytes, *, fault: bool, report: Mapping[str, str] | None = None
    ) -> None:
        """8.14.3/8.14.4: the CH goes back; both functions are withdrawn."""
        hub = self[bytes(chf)]
        cause = "8.14.3 fault return" if fault else "8.14.4 no fault return"
        for device in [hub, *self._gpfs_of(hub)]:
            self._set(device, SmiStatus.WITHDRAWN, cause)
        hub.hub_reports.append(("8.14.3" if fault else "8.14.4", dict(report or {})))

    def _gpfs_of(self, hub: InventoryDevice) -> list[InventoryDevice]:
        return [
            d
            for d in self
            if d.kind == DeviceKind.GPF and d.hub is not None and bytes(d.hub) == bytes(hub.eui)
        ]

    def _require_not_decommissioned(self, device: InventoryDevice) -> None:
        if device.status == SmiStatus.DECOMMISSIONED and not device.kind.type2:
            raise InventoryError(
                "DEVICE_DECOMMISSIONED", f"{device.eui} is decommissioned (SEC H5.3)"
            )

    def check_commission(self, eui: Eui64 | bytes) -> InventoryDevice:
        """Refuse commissioning the SEC forbids (H5.2, H5.3); return the device."""
        device = self[bytes(eui)]
        self._require_not_decommissioned(device)
        if device.kind != DeviceKind.CHF:
            hub = self.get(device.hub) if device.hub is not None else None
            if hub is None or hub.status != SmiStatus.COMMISSIONED:
                raise InventoryError(
                    "CHF_NOT_COMMISSIONED",
                    f"the CHF of {device.eui} must be commissioned first (SEC H5.2)",
                )
        return device

    def commission(self, eui: Eui64 | bytes) -> None:
        device = self.check_commission(eui)
        self._set(device, SmiStatus.COMMISSIONED, "8.1.1 commissioned")

    def decommission(self, eui: Eui64 | bytes) -> list[InventoryDevice]:
        """8.3: decommission, drop associations; a CHF takes its GPF with it (H6.6)."""
        device = self[bytes(eui)]
        if device.kind.type2:
            raise InventoryError(
                "DEVICE_TYPE_NOT_APPLICABLE", f"{device.eui}: Type 2 devices are not decommissioned"
            )
        if device.status == SmiStatus.DECOMMISSIONED:
            raise InventoryError("DEVICE_DECOMMISSIONED", f"{device.eui} is already decommissioned")
        changed = [device]
        if device.kind == DeviceKind.CHF:
            changed += [g for g in self._gpfs_of(device) if g.status != SmiStatus.DECOMMISSIONED]
        for d in changed:
            for other in list(d.associations):
                self.dissociate(d.eui, other)
            self._set(d, SmiStatus.DECOMMISSIONED, "8.3 decommissioned")
        return changed

    def withdraw_model(self, model: str) -> list[InventoryDevice]:
        """The model left the Central Products List: its devices are suspended (H6.10-11)."""
        hit = [d for d in self if d.model == model and d.status != SmiStatus.DECOMMISSIONED]
        for hub in [d for d in hit if d.kind == DeviceKind.CHF]:
            hit += [g for g in self._gpfs_of(hub) if g not in hit]
        for d in hit:
            self._set(d, SmiStatus.SUSPENDED, f"model {model} removed from the CPL")
        return hit

    def withdraw(self, eui: Eui64 | bytes, cause: str) -> SmiStatus:
        """8.5 Service Opt Out: the device stays on site but leaves DCC services (SEC
        "Withdrawn": a supplier that opts out runs it itself). The status it had is
        kept, because 8.6 Service Opt In returns it there; returns that status."""
        device = self[bytes(eui)]
        self._require_not_decommissioned(device)
        before = self.before_withdrawal.get(bytes(device.eui), device.status)
        if device.status != SmiStatus.WITHDRAWN:
            self.before_withdrawal[bytes(device.eui)] = before
        self._set(device, SmiStatus.WITHDRAWN, cause)
        return before

    def opt_in(self, eui: Eui64 | bytes, cause: str) -> SmiStatus | None:
        """8.6 Service Opt In: a withdrawn device returns to its status before the
        withdrawal (installed-not-commissioned if the DCC kept none: it withdrew the
        device some other way, so the supplier commissions it again). None when the
        device is not withdrawn: nothing changes."""
        device = self[bytes(eui)]
        if device.status != SmiStatus.WITHDRAWN:
            return None
        back = self.before_withdrawal.pop(bytes(device.eui), SmiStatus.INSTALLED_NOT_COMMISSIONED)
        self._set(device, back, cause)
        return back

    def delete(self, eui: Eui64 | bytes) -> InventoryDevice:
        """8.4 DeleteDevice: a pre-notified device that will not be installed leaves the
        SMI. Only a pending one: any other has been on the HAN and is decommissioned
        (8.3) instead (SEC services schedule, 8.4 note)."""
        device = self[bytes(eui)]
        if device.status != SmiStatus.PENDING:
            raise InventoryError(
                "STATUS_NOT_ELIGIBLE",
                f"8.4 DeleteDevice takes only a pending device; {device.eui} is {device.status}",
            )
        for other in list(device.associations):
            self.dissociate(device.eui, other)
        del self._devices[bytes(device.eui)]
        self.deleted.append((self._now(), device))
        return device

    def update_status(self, eui: Eui64 | bytes, status: SmiStatus) -> None:
        """8.4 Update Inventory: only the statuses DUIS lets a user set."""
        device = self[bytes(eui)]
        allowed = UPDATABLE_CH if device.kind.hub else UPDATABLE_EXCEPT_CH
        if status not in allowed:
            raise InventoryError(
                "STATUS_UPDATE_NOT_ALLOWED",
                f"8.4 may set {device.kind} to "
                + ", ".join(sorted(s.value for s in allowed))
                + f", not {status}",
            )
        self._require_not_decommissioned(device)
        self._set(device, status, "8.4 update inventory")

    def set_status(self, eui: Eui64 | bytes, status: SmiStatus, cause: str) -> None:
        """Any status, for lab setup and SMKI recovery (not a user service)."""
        self._set(self[bytes(eui)], status, cause)

    def enrolled(self, hub: Eui64 | bytes) -> dict[str, bool]:
        """Which systems on this hub are enrolled (H5.1)."""
        devices = self.on_hub(hub)

        def commissioned(kind: DeviceKind) -> bool:
            return any(d.kind == kind and d.status == SmiStatus.COMMISSIONED for d in devices)

        return {
            "electricity": commissioned(DeviceKind.ESME),
            "gas": commissioned(DeviceKind.GSME) and commissioned(DeviceKind.GPF),
        }

    def set_mpxns(self, eui: Eui64 | bytes, mpxns: Mapping[str, str]) -> bool:
        """Record the metering points a user gave for a meter (DUIS names, `MPXN_FIELDS`);
        the ones not given stay as they were. False (nothing recorded) for a device
        that is not a meter: only a meter's record has them."""
        device = self[bytes(eui)]
        if device.kind not in METERS:
            return False
        device.mpxns.update((k, str(v)) for k, v in mpxns.items() if k in MPXN_FIELDS)
        return True

    def by_mpxn(self, mpxn: str) -> list[InventoryDevice]:
        """8.2 by MPAN / MPRN: the meters with that metering point and the devices
        associated with each (not transitively: SEC H8.16(a)(ii))."""
        found: dict[bytes, InventoryDevice] = {}
        for meter in self:
            if mpxn in meter.mpxns.values():
                found.setdefault(bytes(meter.eui), meter)
                for key in sorted(meter.associations):
                    if key in self._devices:
                        found.setdefault(key, self._devices[key])
        return list(found.values())

    def records(self, devices: Iterable[InventoryDevice] | None = None) -> list[dict[str, str]]:
        return [d.record() for d in (self if devices is None else devices)]
