"""Registration data: who supplies, distributes and serves each premises.

The DCC takes from registration data (not from itself) which users are the
Import, Export and Gas Supplier, Electricity Distributor, Gas Transporter and
supplier agents (MOP/MAM) for a metering point (SEC H3.8, H2.2). A lab keeps
one record per premises, keyed by its CHF; devices inherit the metering points
of their fuel (the CHF, PPMID, IHD and HCALCS serve both).

A change of supplier leaves the old supplier eligible for the daily read logs
of the change day (catalogue notes for 4.6.1, 4.6.2, 4.14): we keep it eligible
for those variants on the change day and the day after, when that day's log
closes.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

from emulator.gbcs.eui import Eui64
from hil.dcc.catalogue import UNREGISTERED_ROLES, Role
from hil.dcc.inventory import DeviceKind

#: Variants the outgoing supplier may still use on a change-of-supplier day.
CHANGE_OF_SUPPLIER_VARIANTS = frozenset({"4.6.1", "4.6.2", "4.14"})


@dataclass
class PremisesRegistration:
    hub: Eui64
    mpan: str | None = None
    export_mpan: str | None = None
    mprn: str | None = None
    import_supplier: Eui64 | None = None
    export_supplier: Eui64 | None = None
    gas_supplier: Eui64 | None = None
    electricity_distributor: Eui64 | None = None
    gas_transporter: Eui64 | None = None
    electricity_agents: set[bytes] = field(default_factory=set)
    gas_agents: set[bytes] = field(default_factory=set)
    lead_supplier: Eui64 | None = None  # for the CH; defaults to the import supplier
    previous_import_supplier: Eui64 | None = None
    previous_gas_supplier: Eui64 | None = None
    change_of_supplier: _dt.date | None = None
    postcode: str = ""
    csp_region: str = "Central"
    wan_coverage: str = "Connected"  # what 12.1 Request WAN Matrix reports for the premises

    def _holder(self, role: Role) -> set[bytes]:
        single = {
            Role.IMPORT_SUPPLIER: self.import_supplier,
            Role.EXPORT_SUPPLIER: self.export_supplier,
            Role.GAS_SUPPLIER: self.gas_supplier,
            Role.ELECTRICITY_DISTRIBUTOR: self.electricity_distributor,
            Role.GAS_TRANSPORTER: self.gas_transporter,
        }
        if role in single:
            value = single[role]
            return set() if value is None else {bytes(value)}
        if role == Role.REGISTERED_SUPPLIER_AGENT:
            return self.electricity_agents | self.gas_agents
        return set()

    def registered(
        self,
        role: Role,
        user_id: Eui64 | bytes,
        kind: DeviceKind,
        *,
        variant: str | None = None,
        today: _dt.date | None = None,
    ) -> bool:
        """Is `user_id` registered in `role` for a device of `kind` at these premises?"""
        if role in UNREGISTERED_ROLES:
            return True
        fuel = kind.fuel
        if role in (Role.IMPORT_SUPPLIER, Role.EXPORT_SUPPLIER, Role.ELECTRICITY_DISTRIBUTOR):
            if fuel == "gas":
                return False
        elif role in (Role.GAS_SUPPLIER, Role.GAS_TRANSPORTER) and fuel == "electricity":
            return False
        key = bytes(user_id)
        if role == Role.REGISTERED_SUPPLIER_AGENT:
            agents = (
                self.gas_agents
                if fuel == "gas"
                else self.electricity_agents
                if fuel == "electricity"
                else self.electricity_agents | self.gas_agents
            )
            return key in agents
        if key in self._holder(role):
            return True
        return self._outgoing_supplier(role, key, variant, today)

    def _outgoing_supplier(
        self, role: Role, key: bytes, variant: str | None, today: _dt.date | None
    ) -> bool:
        if variant not in CHANGE_OF_SUPPLIER_VARIANTS or self.change_of_supplier is None:
            return False
        if today is None or not 0 <= (today - self.change_of_supplier).days <= 1:
            return False
        previous = {
            Role.IMPORT_SUPPLIER: self.previous_import_supplier,
            Role.GAS_SUPPLIER: self.previous_gas_supplier,
        }.get(role)
        return previous is not None and bytes(previous) == key

    def responsible_supplier(self, user_id: Eui64 | bytes, kind: DeviceKind) -> bool:
        """The Import or Gas Supplier for this device's system (SEC 'Responsible Supplier')."""
        return any(
            self.registered(role, user_id, kind)
            for role in (Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER)
        )

    def supplier_on_hub(self, user_id: Eui64 | bytes) -> bool:
        """Responsible Supplier for any device on this hub (gas proxy notes, 8.7.2/8.8.2/8.12.2)."""
        key = bytes(user_id)
        return any(
            s is not None and bytes(s) == key for s in (self.import_supplier, self.gas_supplier)
        )

    def lead(self) -> Eui64 | None:
        return self.lead_supplier or self.import_supplier or self.gas_supplier

    def suppliers(self) -> set[bytes]:
        return {bytes(s) for s in (self.import_supplier, self.gas_supplier) if s is not None}
