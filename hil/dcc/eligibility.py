"""Who may send which service request for which device: the DCC's eligibility rules.

`check` applies the rules in a fixed order and stops at the first that fails,
so every refusal carries exactly one reason code (`Reason`). The order:

1. the variant exists (`UNKNOWN_VARIANT`) and is in use (`SERVICE_NOT_USED`);
2. the user's role is eligible for it in the catalogue (`ROLE_NOT_ELIGIBLE`);
   services available by role alone (SEC H3.10: 12.1, 12.2, 8.2, 8.14.x) stop
   here, eligible;
3. the request names a device (`TARGET_REQUIRED`) of a type the variant applies
   to (`DEVICE_TYPE_NOT_APPLICABLE`);
4. the catalogue notes that narrow it: Other Users join, unjoin and add to the
   device log only Type 2 devices that are not IHDs (`OTHER_USER_TYPE2_ONLY`);
   SMETS2+-only variants are refused for SMETS1 devices
   (`NOT_AVAILABLE_FOR_SMETS1`, H3.10A);
5. the user is the responsible party for the device in that role
   (`NOT_RESPONSIBLE_SUPPLIER`, `NOT_REGISTERED_NETWORK_OPERATOR`,
   `NOT_APPOINTED_AGENT`); a gas proxy join, unjoin or restore may come from
   any Import or Gas Supplier responsible for a device on the same hub; only
   the Lead Supplier decommissions a SMETS1 CHF (`NOT_LEAD_SUPPLIER`, H6.2);
   Other Users and the lab's load controller need no registration
   (`catalogue.UNREGISTERED_ROLES`);
   a pending device is updated only by the user that added it
   (`NOT_ADDED_BY_USER`, 8.4 note);
6. the device's SMI status (H3.9): nobody for decommissioned
   (`DEVICE_DECOMMISSIONED`) or withdrawn/recovery/recovered devices
   (`STATUS_NOT_ELIGIBLE`), except 8.6 Service Opt In, which is how a withdrawn
   device comes back; pending, whitelisted and suspended devices only for
   the Responsible Supplier (`STATUS_RESPONSIBLE_SUPPLIER_ONLY`).

Request-level checks that come after eligibility (timing of future-dated and
scheduled requests, the inventory's commissioning rules) have their own codes in
`hil.dcc.service`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hil.dcc.catalogue import (
    SUPPLIER_ROLES,
    UNREGISTERED_ROLES,
    Catalogue,
    Role,
    ServiceVariant,
    load_catalogue,
)
from hil.dcc.inventory import DeviceKind, SmiStatus


class Reason(StrEnum):
    OK = "OK"
    UNKNOWN_VARIANT = "UNKNOWN_VARIANT"
    SERVICE_NOT_USED = "SERVICE_NOT_USED"
    ROLE_NOT_ELIGIBLE = "ROLE_NOT_ELIGIBLE"
    TARGET_REQUIRED = "TARGET_REQUIRED"
    DEVICE_TYPE_NOT_APPLICABLE = "DEVICE_TYPE_NOT_APPLICABLE"
    OTHER_USER_TYPE2_ONLY = "OTHER_USER_TYPE2_ONLY"
    NOT_AVAILABLE_FOR_SMETS1 = "NOT_AVAILABLE_FOR_SMETS1"
    NOT_RESPONSIBLE_SUPPLIER = "NOT_RESPONSIBLE_SUPPLIER"
    NOT_REGISTERED_NETWORK_OPERATOR = "NOT_REGISTERED_NETWORK_OPERATOR"
    NOT_APPOINTED_AGENT = "NOT_APPOINTED_AGENT"
    NOT_LEAD_SUPPLIER = "NOT_LEAD_SUPPLIER"
    NOT_ADDED_BY_USER = "NOT_ADDED_BY_USER"
    DEVICE_DECOMMISSIONED = "DEVICE_DECOMMISSIONED"
    STATUS_NOT_ELIGIBLE = "STATUS_NOT_ELIGIBLE"
    STATUS_RESPONSIBLE_SUPPLIER_ONLY = "STATUS_RESPONSIBLE_SUPPLIER_ONLY"


#: The order `check` applies the rules in (docs/dcc.md prints this table).
REASON_ORDER: tuple[Reason, ...] = tuple(r for r in Reason if r != Reason.OK)

_ALL = frozenset(DeviceKind)
_HAN = frozenset(
    {
        DeviceKind.ESME,
        DeviceKind.GSME,
        DeviceKind.GPF,
        DeviceKind.PPMID,
        DeviceKind.IHD,
        DeviceKind.HCALCS,
        DeviceKind.TYPE2,
    }
)
E, G, P, C = DeviceKind.ESME, DeviceKind.GSME, DeviceKind.GPF, DeviceKind.CHF
PPMID, HCALCS = DeviceKind.PPMID, DeviceKind.HCALCS


def _many(variants: str, *kinds: DeviceKind) -> dict[str, frozenset[DeviceKind]]:
    return dict.fromkeys(variants.split(), frozenset(kinds))


#: The device types each device variant applies to: the DUIS DeviceID, or for
#: join, unjoin and device-log variants also the device being joined or added.
#: Variants not listed here apply to electricity meters only (most 1.x-7.x).
APPLIES_TO: dict[str, frozenset[DeviceKind]] = {
    **_many(
        "1.1.1 1.2.1 1.5 1.6 2.1 2.2 2.3 2.5 3.1 3.3 3.4 3.5 4.4.2 4.4.3 4.4.4 4.4.5 "
        "4.6.1 4.8.1 4.10 4.11.1 4.13 6.2.3 6.2.7 6.2.9 6.2.10 6.8 6.11 6.17 6.15.2 "
        "6.20.1 6.22 6.24.2 7.2 7.3 7.4 8.13 9.1",
        E,
        G,
    ),
    **_many("4.1.1 4.1.2 4.3 4.14 4.17 4.18 3.2", E, G, P),
    "4.1.4": frozenset({G, P}),
    "6.2.4": frozenset({C, E, G, P}),
    "6.2.8": frozenset({G}),
    "6.6": frozenset({G}),
    "6.7": frozenset({G}),
    "14.1": frozenset({G}),
    "6.13": frozenset({C, E, G, P}),
    "6.15.1": frozenset({E, G, P}),
    "6.21": frozenset({E, G, P}),
    "6.23": frozenset({E, G, P}),
    "6.24.1": frozenset({C, E, G, P}),
    **_many("6.28 6.29 6.30 6.31 6.32 8.12.1", C),
    "8.12.2": frozenset({P}),
    "8.1.1": _HAN,
    "8.3": frozenset({C, P, E, G, PPMID, HCALCS}),
    "8.4": _ALL,
    "8.7.1": frozenset({E, G, P, PPMID, HCALCS}),
    "8.7.2": _HAN,
    "8.8.1": frozenset({E, G, P, PPMID, HCALCS}),
    "8.8.2": _HAN,
    "8.9": frozenset({C, P, E, G}),
    "8.11": _ALL,
    "11.1": frozenset({C, E, G, HCALCS}),
    "11.4": frozenset({PPMID}),
    "11.2": frozenset({C, E, G, PPMID, HCALCS}),
    "11.3": frozenset({C, E, G, PPMID, HCALCS}),
    **_many("5.1 5.2 5.3", C, P, E, G),
    "8.6": frozenset({E, G}),  # the meter a supplier opted out (DUIS ServiceOptIn DeviceID)
}

#: Device types a variant applies to for SMETS1 devices only: a SMETS1 PPMID's firmware
#: goes by 11.1 through the hub's firmware regime (11.4 is for SMETS2+ PPMIDs).
SMETS1_ALSO_APPLIES_TO: dict[str, frozenset[DeviceKind]] = {"11.1": frozenset({PPMID})}

#: Variants whose note limits Other Users to Type 2 devices that are not IHDs.
OTHER_USER_TYPE2_VARIANTS = frozenset({"8.7.2", "8.8.2", "8.11"})
#: Variants about a second device (joined, unjoined, added to or removed from the
#: device log): its type is what the type rules and notes look at.
PARTNER_VARIANTS = frozenset({"8.7.1", "8.7.2", "8.8.1", "8.8.2", "8.11"})
#: Variants any Responsible Supplier on the hub may send for the gas proxy.
GAS_PROXY_VARIANTS = frozenset({"8.7.2", "8.8.2", "8.12.2"})
#: Statuses in which only the Responsible Supplier may send requests (H3.9).
RESPONSIBLE_ONLY_STATUSES = frozenset(
    {SmiStatus.PENDING, SmiStatus.WHITELISTED, SmiStatus.SUSPENDED}
)
OPEN_STATUSES = frozenset({SmiStatus.INSTALLED_NOT_COMMISSIONED, SmiStatus.COMMISSIONED})
#: Variants open to a withdrawn device: 8.6 Service Opt In undoes 8.5's withdrawal.
WITHDRAWN_VARIANTS = frozenset({"8.6"})


def applies_to(variant: str) -> frozenset[DeviceKind]:
    return APPLIES_TO.get(variant, frozenset({E}))


@dataclass(frozen=True, slots=True)
class Subject:
    """What the DCC knows about the device a request concerns, for one user.

    `registered`: the user holds the request's role for this device in the
    registration data (a supplier of its system, its network operator, an
    appointed agent; always true for Other Users). `responsible_supplier`: the
    user is the device's Import or Gas Supplier. `supplier_on_hub`: the user is
    a Responsible Supplier of some device on the same hub.
    """

    kind: DeviceKind | None
    status: SmiStatus | None = SmiStatus.COMMISSIONED
    smets1: bool = False
    registered: bool = False
    responsible_supplier: bool = False
    supplier_on_hub: bool = False
    lead_supplier: bool = False
    added_by_user: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    eligible: bool
    reason: Reason
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"eligible": self.eligible, "reason": self.reason.value}


def _refuse(reason: Reason, detail: str) -> Decision:
    return Decision(False, reason, detail)


def check(
    variant: str | ServiceVariant,
    role: Role,
    subject: Subject | None,
    *,
    catalogue: Catalogue | None = None,
) -> Decision:
    """Apply the rules in order (module docstring); the first failure decides."""
    if isinstance(variant, ServiceVariant):
        service: ServiceVariant | None = variant
    else:
        service = (catalogue or load_catalogue()).get(variant)
    if service is None:
        return _refuse(Reason.UNKNOWN_VARIANT, f"no service reference variant {variant!r}")
    name = f"{service.variant} {service.name}"
    if not service.used:
        return _refuse(Reason.SERVICE_NOT_USED, f"{name} is not used (no eligible role)")
    if role not in service.roles:
        allowed = ", ".join(sorted(r.value for r in service.roles))
        return _refuse(Reason.ROLE_NOT_ELIGIBLE, f"{name}: {role} is not eligible ({allowed} are)")
    if service.role_only:
        return Decision(True, Reason.OK, f"{name} is available by role alone (SEC H3.10)")
    if subject is None or subject.kind is None:
        return _refuse(Reason.TARGET_REQUIRED, f"{name} needs a target device")
    kind = subject.kind
    also = SMETS1_ALSO_APPLIES_TO.get(service.variant, frozenset()) if subject.smets1 else None
    if kind not in applies_to(service.variant) and not (also and kind in also):
        return _refuse(Reason.DEVICE_TYPE_NOT_APPLICABLE, f"{name} does not apply to a {kind}")
    if (
        role == Role.OTHER_USER
        and service.variant in OTHER_USER_TYPE2_VARIANTS
        and kind != DeviceKind.TYPE2
    ):
        return _refuse(
            Reason.OTHER_USER_TYPE2_ONLY,
            f"{name}: Other Users may only act on Type 2 devices that are not IHDs, not a {kind}",
        )
    if subject.smets1 and not service.available_for_smets1:
        return _refuse(Reason.NOT_AVAILABLE_FOR_SMETS1, f"{name} is for SMETS2+ devices only")
    responsible_level = subject.responsible_supplier and role in SUPPLIER_ROLES
    refusal = _relationship(service, role, subject, name)
    if refusal is not None:
        return refusal
    gas_proxy = service.variant in GAS_PROXY_VARIANTS and kind == DeviceKind.GPF
    if gas_proxy and role in (Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER):
        responsible_level = responsible_level or subject.supplier_on_hub
    if service.variant == "8.4" and subject.status == SmiStatus.PENDING:
        responsible_level = True  # the adder of a pending device (8.4 note)
    status = subject.status
    if status == SmiStatus.DECOMMISSIONED and service.variant == "8.1.1" and kind.type2:
        status = SmiStatus.INSTALLED_NOT_COMMISSIONED  # Type 2 devices may come back (H5.3)
    if status == SmiStatus.DECOMMISSIONED:
        return _refuse(Reason.DEVICE_DECOMMISSIONED, f"{name}: the device is decommissioned")
    if status == SmiStatus.WITHDRAWN and service.variant in WITHDRAWN_VARIANTS:
        status = SmiStatus.COMMISSIONED  # who may opt it in: the relationship rules above
    if status is not None and status not in OPEN_STATUSES | RESPONSIBLE_ONLY_STATUSES:
        return _refuse(Reason.STATUS_NOT_ELIGIBLE, f"{name}: no user may act on a {status} device")
    if status in RESPONSIBLE_ONLY_STATUSES and not responsible_level:
        return _refuse(
            Reason.STATUS_RESPONSIBLE_SUPPLIER_ONLY,
            f"{name}: only the Responsible Supplier may act on a {status} device",
        )
    return Decision(True, Reason.OK, name)


def _relationship(
    service: ServiceVariant, role: Role, subject: Subject, name: str
) -> Decision | None:
    kind = subject.kind
    if service.variant == "8.4":
        if subject.status == SmiStatus.PENDING:
            if not subject.added_by_user:
                return _refuse(
                    Reason.NOT_ADDED_BY_USER,
                    f"{name}: only the user that added a pending device may update it",
                )
            return None
        if not (subject.responsible_supplier and role in SUPPLIER_ROLES):
            return _refuse(
                Reason.NOT_RESPONSIBLE_SUPPLIER,
                f"{name}: only the Responsible Supplier may amend a device that is not pending",
            )
        return None
    if service.variant == "8.3" and kind == DeviceKind.CHF and subject.smets1:
        if not subject.lead_supplier:
            return _refuse(
                Reason.NOT_LEAD_SUPPLIER,
                f"{name}: only the Lead Supplier decommissions a SMETS1 CHF",
            )
        return None
    if (
        service.variant in GAS_PROXY_VARIANTS
        and kind == DeviceKind.GPF
        and role in (Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER)
    ):
        if subject.supplier_on_hub or subject.responsible_supplier:
            return None
        return _refuse(
            Reason.NOT_RESPONSIBLE_SUPPLIER,
            f"{name}: the user supplies no device on the gas proxy's hub",
        )
    if subject.registered or role in UNREGISTERED_ROLES:
        return None
    if role in SUPPLIER_ROLES:
        return _refuse(
            Reason.NOT_RESPONSIBLE_SUPPLIER, f"{name}: the user is not the {role} of this device"
        )
    if role == Role.REGISTERED_SUPPLIER_AGENT:
        return _refuse(
            Reason.NOT_APPOINTED_AGENT, f"{name}: the user is not an appointed MOP/MAM here"
        )
    return _refuse(
        Reason.NOT_REGISTERED_NETWORK_OPERATOR,
        f"{name}: the user is not the {role} registered for this device's system",
    )


def subject_from_flags(
    role: Role,
    kind: DeviceKind,
    status: SmiStatus,
    *,
    smets1: bool = False,
    responsible: bool = False,
) -> Subject:
    """The command-line view: `responsible` says the user supplies this device; network
    operators, agents and Other Users are taken as registered for the device's system."""
    supplier = role in SUPPLIER_ROLES
    return Subject(
        kind=kind,
        status=status,
        smets1=smets1,
        registered=responsible if supplier else True,
        responsible_supplier=responsible and role in (Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER),
        supplier_on_hub=responsible and supplier,
        lead_supplier=responsible and supplier,
        added_by_user=responsible,
    )
