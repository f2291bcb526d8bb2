"""Every catalogue variant our devices implement, sent as a service request through the
DCC layer to a virtual device, by a user eligible for it, and answered with success.

Success is the outcome's (`hil.dcc.outcome`): every DLMS result, ZCL status and
ASN.1 result code the device returns is success (a ZCL NOT_FOUND, a log slot the
device holds no entry for, is no data rather than a failure). There is no
exclusion list: every route a user can request must succeed with the default
parameters plus what `route_setup` says a route needs.

Each route (variant, GBCS use case, device type, option) is one case: a fresh lab
(40 days of history, so logs and profiles hold data), the route's lab setup
(`route_setup.lab_setup`), then `Dcc.request` with the route's option. The user
is one the catalogue makes eligible and whose trust-anchor cell the use case
accepts: the supplier for supplier-originated use cases, the distributor or
transporter for network-operator ones, the lab's load controller for 7.16; the DCC
sends hub and ACB use cases itself.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import AsyncIterator

import pytest
from route_setup import lab_setup

from emulator.devices.base import Device
from hil.dcc.catalogue import Role, load_catalogue
from hil.dcc.commands import has_builder
from hil.dcc.lab import Lab, LabSpec
from hil.dcc.requests import RequestStatus
from hil.dcc.routes import ROUTES, Route
from hil.dcc.service import FUTURE_DATED_ONLY

LAB = """
name: e2e lab
start: "2026-03-02T10:00:00Z"
history_days: 40
link: memory://dcc-e2e
users:
  supplier: {roles: [Import Supplier, Export Supplier, Gas Supplier], id: 90-B3-D5-1F-30-01-00-00}
  dno: {roles: {Electricity Distributor: 90-B3-D5-1F-30-02-00-00}}
  gt: {roles: {Gas Transporter: 90-B3-D5-1F-30-02-00-10}}
  mop: {roles: {Registered Supplier Agent: 90-B3-D5-1F-30-03-00-00}}
  app: {roles: {Other User: 90-B3-D5-1F-30-04-00-00}}
  lc: {roles: {Load Controller: 90-B3-D5-1F-30-01-00-08}}
premises:
  - name: e2e
    devices:
      - {type: CHF, suffix: A2}
      - {type: GPF, suffix: A3}
      - {type: ESME, suffix: A0}
      - {type: GSME, suffix: A1}
      - {type: PPMID, suffix: A4}
      - {type: HCALCS, suffix: A5}
      - {type: TYPE2, suffix: B1, status: installed-not-commissioned}
    registration:
      import_supplier: supplier
      export_supplier: supplier
      gas_supplier: supplier
      electricity_distributor: dno
      gas_transporter: gt
      agents: {electricity: [mop], gas: [mop]}
"""

CATALOGUE = load_catalogue()
CASES = [
    r for r in ROUTES if r.variant in CATALOGUE and CATALOGUE[r.variant].used and has_builder(r)
]
GAS = {"GSME", "GPF"}
USERS = {
    Role.IMPORT_SUPPLIER: "supplier",
    Role.GAS_SUPPLIER: "supplier",
    Role.EXPORT_SUPPLIER: "supplier",
    Role.ELECTRICITY_DISTRIBUTOR: "dno",
    Role.GAS_TRANSPORTER: "gt",
    Role.REGISTERED_SUPPLIER_AGENT: "mop",
    Role.OTHER_USER: "app",
    Role.LOAD_CONTROLLER: "lc",
}


def sender(r: Route) -> Role:
    """An eligible role whose commands the route's use case accepts."""
    roles = CATALOGUE[r.variant].roles
    gas = r.device_type in GAS
    if r.originator == "network_operator":
        preference = [Role.GAS_TRANSPORTER] if gas else [Role.ELECTRICITY_DISTRIBUTOR]
    else:
        preference = [Role.GAS_SUPPLIER, Role.IMPORT_SUPPLIER] if gas else [Role.IMPORT_SUPPLIER]
        preference += [Role.GAS_SUPPLIER, Role.EXPORT_SUPPLIER, Role.OTHER_USER]
    for role in preference:
        if role in roles:
            return role
    return sorted(roles)[0]


def _id(r: Route) -> str:
    return f"{r.variant}-{r.use_case}-{r.device_type}" + (f"-{r.option}" if r.option else "")


@pytest.fixture
async def lab() -> AsyncIterator[Lab]:
    the_lab = Lab.build(LabSpec.from_yaml(LAB, "e2e lab"))
    async with the_lab:
        yield the_lab


def test_only_routes_without_a_service_request_are_left_out() -> None:
    """Every route a user can request is a case; the others have no DUIS service
    (DCC-originated credential updates, variants the catalogue marks not used)."""
    left_out = [r for r in ROUTES if r not in CASES]
    assert all(
        not has_builder(r) or r.variant not in CATALOGUE or not CATALOGUE[r.variant].used
        for r in left_out
    )
    assert len(CASES) == len(ROUTES) - len(left_out) > 200


def test_every_catalogue_device_variant_is_covered_or_explained() -> None:
    """Only the variants `routes.UNROUTED` explains have no end-to-end case."""
    from hil.dcc.routes import UNROUTED

    device_variants = {v.variant for v in CATALOGUE if v.used and not v.non_device}
    uncovered = device_variants - {r.variant for r in CASES}
    assert uncovered == device_variants & set(UNROUTED)
    assert uncovered == {"8.13"}


@pytest.mark.parametrize("r", CASES, ids=_id)
async def test_variant_answered_through_the_dcc(r: Route, lab: Lab) -> None:
    assert lab.dcc is not None
    target: Device | None = lab.device(r.device_type)
    assert target is not None
    params = lab_setup(r, lab.premises[0], target, lab.clock.now())
    role = sender(r)
    before = lab.dcc.timings.timings[:]
    # a future-dated-only service (8.5) runs a minute later, held by the DCC
    later = lab.clock.now() + _dt.timedelta(minutes=1) if r.variant in FUTURE_DATED_ONLY else None
    result = await lab.dcc.request(
        r.variant,
        as_user=USERS[role],
        role=role,
        target=target.eui,
        option=r.option,
        params=params,
        execute_at=later,
        timeout=20,
    )
    if later is not None:
        lab.advance(120)
        await result.wait(20)
    assert result.status == RequestStatus.COMPLETED, f"{result.reason}: {result.detail}"
    assert result.use_case == r.use_case
    outcome = result.outcome
    assert outcome is not None and outcome.ok, outcome
    assert outcome.failures == 0 and outcome.device_code is None and not outcome.deferred
    assert result.timing is not None and result.timing.measured is not None
    assert len(lab.dcc.timings.timings) == len(before) + 1


def test_every_eligible_role_has_a_use_case_that_accepts_it() -> None:
    """For each variant and device type, every role the catalogue makes eligible (and
    that can be registered for that device's system) can send some route's use case."""
    from emulator.devices.usecases import USE_CASES
    from hil.dcc.inventory import DeviceKind
    from hil.dcc.service import ANCHOR_ROLE

    dcc_parties = {"acb", "transitional_cos", "wan_provider", "recovery"}
    by_target: dict[tuple[str, str], list[Route]] = {}
    for r in CASES:
        by_target.setdefault((r.variant, r.device_type), []).append(r)
    gaps = []
    for (variant, device_type), routes in sorted(by_target.items()):
        fuel = DeviceKind(device_type).fuel
        for role in CATALOGUE[variant].roles:
            if fuel == "gas" and role in (
                Role.IMPORT_SUPPLIER,
                Role.EXPORT_SUPPLIER,
                Role.ELECTRICITY_DISTRIBUTOR,
            ):
                continue
            if fuel == "electricity" and role in (Role.GAS_SUPPLIER, Role.GAS_TRANSPORTER):
                continue
            anchor = ANCHOR_ROLE[role]
            if not any(
                r.originator in dcc_parties
                or anchor in USE_CASES[r.message_code].originators
                or "acb" in USE_CASES[r.message_code].originators
                for r in routes
            ):
                gaps.append(f"{variant} {device_type} {role.short}")
    assert gaps == []
