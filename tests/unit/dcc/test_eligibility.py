"""Eligibility, generated from the catalogue: every variant x every role, plus the
notes, the responsible-party rules and the SMI status table (SEC H3.8-H3.10A)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hil.cli import main
from hil.dcc.catalogue import Catalogue, Role, ServiceVariant, load_catalogue
from hil.dcc.eligibility import (
    OTHER_USER_TYPE2_VARIANTS,
    Reason,
    Subject,
    applies_to,
    check,
    subject_from_flags,
)
from hil.dcc.inventory import DeviceKind, SmiStatus

CATALOGUE = list(load_catalogue())
PAIRS = [(v, r) for v in CATALOGUE for r in Role]


def _kind_for(service: ServiceVariant, role: Role) -> DeviceKind:
    if role == Role.OTHER_USER and service.variant in OTHER_USER_TYPE2_VARIANTS:
        return DeviceKind.TYPE2
    kinds = applies_to(service.variant)
    return DeviceKind.ESME if DeviceKind.ESME in kinds else sorted(kinds)[0]


@pytest.mark.parametrize(
    ("service", "role"), PAIRS, ids=[f"{v.variant}-{r.short}" for v, r in PAIRS]
)
def test_role_eligibility_matches_the_catalogue(service: ServiceVariant, role: Role) -> None:
    # 8.4: a pending device, updated by the user that added it (its note)
    status = SmiStatus.PENDING if service.variant == "8.4" else SmiStatus.COMMISSIONED
    subject = subject_from_flags(role, _kind_for(service, role), status, responsible=True)
    decision = check(service.variant, role, subject)
    if not service.used:
        assert decision.reason == Reason.SERVICE_NOT_USED
    elif role in service.roles:
        assert decision.eligible, decision.detail
        assert decision.reason == Reason.OK
    else:
        assert not decision.eligible
        assert decision.reason == Reason.ROLE_NOT_ELIGIBLE


ROLE_ONLY = [v for v in CATALOGUE if v.role_only]


@pytest.mark.parametrize("service", ROLE_ONLY, ids=[v.variant for v in ROLE_ONLY])
def test_role_only_services_skip_every_device_check(service: ServiceVariant) -> None:
    role = sorted(service.roles)[0]
    # no device at all, or a decommissioned SMETS1 device the user has nothing to do with
    assert check(service.variant, role, None).eligible
    stranger = Subject(DeviceKind.IHD, SmiStatus.DECOMMISSIONED, smets1=True)
    assert check(service.variant, role, stranger).eligible


SMETS2_ONLY = [v for v in CATALOGUE if v.used and not v.role_only and not v.available_for_smets1]


@pytest.mark.parametrize("service", SMETS2_ONLY, ids=[v.variant for v in SMETS2_ONLY])
def test_smets2_only_variants_are_refused_for_smets1(service: ServiceVariant) -> None:
    role = sorted(service.roles)[0]
    kind = _kind_for(service, role)
    status = SmiStatus.PENDING if service.variant == "8.4" else SmiStatus.COMMISSIONED
    smets2 = subject_from_flags(role, kind, status, responsible=True)
    smets1 = subject_from_flags(role, kind, status, responsible=True, smets1=True)
    assert check(service.variant, role, smets2).eligible
    decision = check(service.variant, role, smets1)
    assert decision.reason == Reason.NOT_AVAILABLE_FOR_SMETS1


def test_smets1_is_fine_where_the_catalogue_has_a_smets1_target() -> None:
    subject = subject_from_flags(
        Role.IMPORT_SUPPLIER, DeviceKind.ESME, SmiStatus.COMMISSIONED, responsible=True, smets1=True
    )
    assert check("2.2", Role.IMPORT_SUPPLIER, subject).eligible


@pytest.mark.parametrize("variant", sorted(OTHER_USER_TYPE2_VARIANTS))
@pytest.mark.parametrize("kind", list(DeviceKind))
def test_other_users_only_act_on_type2_devices_that_are_not_ihds(
    variant: str, kind: DeviceKind
) -> None:
    subject = subject_from_flags(Role.OTHER_USER, kind, SmiStatus.COMMISSIONED)
    decision = check(variant, Role.OTHER_USER, subject)
    if kind == DeviceKind.TYPE2:
        assert decision.eligible
    elif kind in applies_to(variant):
        assert decision.reason == Reason.OTHER_USER_TYPE2_ONLY
    else:
        assert decision.reason == Reason.DEVICE_TYPE_NOT_APPLICABLE
    # suppliers are not narrowed by that note
    supplier = subject_from_flags(Role.GAS_SUPPLIER, kind, SmiStatus.COMMISSIONED, responsible=True)
    if kind in applies_to(variant):
        assert check(variant, Role.GAS_SUPPLIER, supplier).eligible


@pytest.mark.parametrize("variant", ["8.7.2", "8.8.2", "8.12.2"])
@pytest.mark.parametrize("role", [Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER])
def test_gas_proxy_may_be_joined_by_any_responsible_supplier_on_the_hub(
    variant: str, role: Role
) -> None:
    on_hub = Subject(DeviceKind.GPF, SmiStatus.COMMISSIONED, registered=False, supplier_on_hub=True)
    elsewhere = Subject(DeviceKind.GPF, SmiStatus.COMMISSIONED, registered=False)
    assert check(variant, role, on_hub).eligible
    assert check(variant, role, elsewhere).reason == Reason.NOT_RESPONSIBLE_SUPPLIER
    # the note covers the gas proxy only: a PPMID still needs the user to supply it
    if variant != "8.12.2":
        ppmid = Subject(DeviceKind.PPMID, SmiStatus.COMMISSIONED, supplier_on_hub=True)
        assert check(variant, role, ppmid).reason == Reason.NOT_RESPONSIBLE_SUPPLIER


@pytest.mark.parametrize(
    ("role", "reason"),
    [
        (Role.IMPORT_SUPPLIER, Reason.NOT_RESPONSIBLE_SUPPLIER),
        (Role.GAS_SUPPLIER, Reason.NOT_RESPONSIBLE_SUPPLIER),
        (Role.ELECTRICITY_DISTRIBUTOR, Reason.NOT_REGISTERED_NETWORK_OPERATOR),
        (Role.GAS_TRANSPORTER, Reason.NOT_REGISTERED_NETWORK_OPERATOR),
        (Role.REGISTERED_SUPPLIER_AGENT, Reason.NOT_APPOINTED_AGENT),
    ],
)
def test_users_must_be_the_registered_party_for_the_device(role: Role, reason: Reason) -> None:
    variant = "4.1.1" if role != Role.REGISTERED_SUPPLIER_AGENT else "7.4"
    kind = DeviceKind.GSME if role in (Role.GAS_SUPPLIER, Role.GAS_TRANSPORTER) else DeviceKind.ESME
    stranger = Subject(kind, SmiStatus.COMMISSIONED, registered=False)
    registered = Subject(kind, SmiStatus.COMMISSIONED, registered=True, responsible_supplier=True)
    assert check(variant, role, stranger).reason == reason
    assert check(variant, role, registered).eligible


def test_other_users_need_no_registration() -> None:
    subject = Subject(DeviceKind.ESME, SmiStatus.COMMISSIONED, registered=False)
    assert check("4.8.1", Role.OTHER_USER, subject).eligible


RS_STATUSES = {"pending", "whitelisted", "installed-not-commissioned", "commissioned", "suspended"}
OTHER_STATUSES = {"installed-not-commissioned", "commissioned"}


@pytest.mark.parametrize("status", list(SmiStatus))
def test_status_table_for_the_responsible_supplier_and_for_others(status: SmiStatus) -> None:
    rs = subject_from_flags(Role.IMPORT_SUPPLIER, DeviceKind.ESME, status, responsible=True)
    dno = subject_from_flags(Role.ELECTRICITY_DISTRIBUTOR, DeviceKind.ESME, status)
    rs_decision = check("4.1.1", Role.IMPORT_SUPPLIER, rs)
    dno_decision = check("4.1.1", Role.ELECTRICITY_DISTRIBUTOR, dno)
    assert rs_decision.eligible == (status.value in RS_STATUSES)
    assert dno_decision.eligible == (status.value in OTHER_STATUSES)
    if status == SmiStatus.DECOMMISSIONED:
        assert rs_decision.reason == dno_decision.reason == Reason.DEVICE_DECOMMISSIONED
    elif status in (SmiStatus.WITHDRAWN, SmiStatus.RECOVERY, SmiStatus.RECOVERED):
        assert rs_decision.reason == dno_decision.reason == Reason.STATUS_NOT_ELIGIBLE
    elif status.value in RS_STATUSES - OTHER_STATUSES:
        assert dno_decision.reason == Reason.STATUS_RESPONSIBLE_SUPPLIER_ONLY


@pytest.mark.parametrize("role", [Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER])
def test_service_opt_out_and_opt_in_are_for_the_responsible_supplier(role: Role) -> None:
    """8.5 and 8.6 run as the DCC's reference data runs them (catalogue overrides)."""
    esme = subject_from_flags(role, DeviceKind.ESME, SmiStatus.COMMISSIONED, responsible=True)
    assert check("8.5", role, esme).eligible
    assert check("8.6", role, esme).eligible
    stranger = subject_from_flags(role, DeviceKind.ESME, SmiStatus.COMMISSIONED)
    assert check("8.5", role, stranger).reason == Reason.NOT_RESPONSIBLE_SUPPLIER
    dno = subject_from_flags(Role.ELECTRICITY_DISTRIBUTOR, DeviceKind.ESME, SmiStatus.COMMISSIONED)
    assert check("8.5", Role.ELECTRICITY_DISTRIBUTOR, dno).reason == Reason.ROLE_NOT_ELIGIBLE


def test_a_withdrawn_device_takes_only_service_opt_in() -> None:
    """8.5 withdraws a device; every device service is then refused, 8.6 brings it back
    (for its responsible supplier only)."""
    rs = subject_from_flags(
        Role.IMPORT_SUPPLIER, DeviceKind.ESME, SmiStatus.WITHDRAWN, responsible=True
    )
    for variant in ("4.1.1", "8.5", "2.2"):
        assert check(variant, Role.IMPORT_SUPPLIER, rs).reason == Reason.STATUS_NOT_ELIGIBLE
    assert check("8.6", Role.IMPORT_SUPPLIER, rs).eligible
    stranger = subject_from_flags(Role.IMPORT_SUPPLIER, DeviceKind.ESME, SmiStatus.WITHDRAWN)
    assert check("8.6", Role.IMPORT_SUPPLIER, stranger).reason == Reason.NOT_RESPONSIBLE_SUPPLIER
    decommissioned = subject_from_flags(
        Role.IMPORT_SUPPLIER, DeviceKind.ESME, SmiStatus.DECOMMISSIONED, responsible=True
    )
    assert check("8.6", Role.IMPORT_SUPPLIER, decommissioned).reason == (
        Reason.DEVICE_DECOMMISSIONED
    )


def test_a_variant_no_role_may_send_is_not_used() -> None:
    """No reference row is "Not used" any more (8.5 / 8.6 are overridden): the rule
    still refuses a row with no eligible role, before the role rule."""
    row = ServiceVariant("9.9", "9.9", "Retired", frozenset(), None, None, False, True, "Not used")
    catalogue = Catalogue([row])
    subject = subject_from_flags(
        Role.IMPORT_SUPPLIER, DeviceKind.ESME, SmiStatus.COMMISSIONED, responsible=True
    )
    decision = check("9.9", Role.IMPORT_SUPPLIER, subject, catalogue=catalogue)
    assert decision.reason == Reason.SERVICE_NOT_USED and not decision.eligible
    assert not row.used


def test_export_supplier_is_not_the_responsible_supplier_for_status_rules() -> None:
    subject = subject_from_flags(
        Role.EXPORT_SUPPLIER, DeviceKind.ESME, SmiStatus.SUSPENDED, responsible=True
    )
    assert check("4.2", Role.EXPORT_SUPPLIER, subject).reason == (
        Reason.STATUS_RESPONSIBLE_SUPPLIER_ONLY
    )


def test_only_the_lead_supplier_decommissions_a_smets1_chf() -> None:
    lead = Subject(DeviceKind.CHF, SmiStatus.COMMISSIONED, smets1=True, lead_supplier=True)
    other = Subject(
        DeviceKind.CHF,
        SmiStatus.COMMISSIONED,
        smets1=True,
        registered=True,
        responsible_supplier=True,
    )
    assert check("8.3", Role.IMPORT_SUPPLIER, lead).eligible
    assert check("8.3", Role.IMPORT_SUPPLIER, other).reason == Reason.NOT_LEAD_SUPPLIER
    smets2 = Subject(
        DeviceKind.CHF, SmiStatus.COMMISSIONED, registered=True, responsible_supplier=True
    )
    assert check("8.3", Role.IMPORT_SUPPLIER, smets2).eligible


def test_pending_devices_are_updated_only_by_the_user_that_added_them() -> None:
    adder = Subject(DeviceKind.ESME, SmiStatus.PENDING, registered=True, added_by_user=True)
    other = Subject(DeviceKind.ESME, SmiStatus.PENDING, registered=True)
    assert check("8.4", Role.ELECTRICITY_DISTRIBUTOR, adder).eligible
    assert check("8.4", Role.ELECTRICITY_DISTRIBUTOR, other).reason == Reason.NOT_ADDED_BY_USER
    rs = Subject(
        DeviceKind.ESME, SmiStatus.COMMISSIONED, registered=True, responsible_supplier=True
    )
    assert check("8.4", Role.IMPORT_SUPPLIER, rs).eligible
    dno = Subject(DeviceKind.ESME, SmiStatus.COMMISSIONED, registered=True)
    assert check("8.4", Role.ELECTRICITY_DISTRIBUTOR, dno).reason == Reason.NOT_RESPONSIBLE_SUPPLIER


def test_rules_apply_in_order_the_first_failure_decides() -> None:
    # wrong role AND decommissioned AND SMETS1: the role rule comes first
    subject = Subject(DeviceKind.ESME, SmiStatus.DECOMMISSIONED, smets1=True)
    assert check("1.1.2", Role.GAS_TRANSPORTER, subject).reason == Reason.ROLE_NOT_ELIGIBLE
    # eligible role, SMETS1 and decommissioned: the SMETS1 note comes before status
    rs = Subject(DeviceKind.ESME, SmiStatus.DECOMMISSIONED, smets1=True, registered=True)
    assert check("1.1.2", Role.IMPORT_SUPPLIER, rs).reason == Reason.NOT_AVAILABLE_FOR_SMETS1
    # not registered and decommissioned: registration comes before status
    stranger = Subject(DeviceKind.ESME, SmiStatus.DECOMMISSIONED)
    assert check("2.2", Role.IMPORT_SUPPLIER, stranger).reason == Reason.NOT_RESPONSIBLE_SUPPLIER


def test_unknown_variant_and_missing_target_and_wrong_device_type() -> None:
    assert check("99.9", Role.IMPORT_SUPPLIER, None).reason == Reason.UNKNOWN_VARIANT
    assert check("2.2", Role.IMPORT_SUPPLIER, None).reason == Reason.TARGET_REQUIRED
    chf = subject_from_flags(
        Role.IMPORT_SUPPLIER, DeviceKind.CHF, SmiStatus.COMMISSIONED, responsible=True
    )
    assert check("2.2", Role.IMPORT_SUPPLIER, chf).reason == Reason.DEVICE_TYPE_NOT_APPLICABLE


def test_every_refusal_reason_is_distinct_and_documented() -> None:
    values = [r.value for r in Reason]
    assert len(values) == len(set(values))


def _cli(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(main, ["eligibility", *args, "--json"])
    data: dict[str, object] = json.loads(result.stdout)
    assert result.exit_code == (0 if data["eligible"] else 1), result.output  # refused: 1
    return data


def test_cli_answers_with_eligible_and_reason() -> None:
    assert _cli(
        "--variant",
        "2.2",
        "--role",
        "Import Supplier",
        "--device-type",
        "ESME",
        "--status",
        "commissioned",
        "--responsible",
    ) == {"eligible": True, "reason": "OK"}
    assert _cli(
        "--variant",
        "2.2",
        "--role",
        "Import Supplier",
        "--device-type",
        "ESME",
        "--status",
        "commissioned",
    ) == {"eligible": False, "reason": "NOT_RESPONSIBLE_SUPPLIER"}
    assert _cli(
        "--variant",
        "8.7.2",
        "--role",
        "Other User",
        "--device-type",
        "IHD",
        "--status",
        "commissioned",
    ) == {"eligible": False, "reason": "OTHER_USER_TYPE2_ONLY"}
    assert _cli(
        "--variant",
        "4.1.1",
        "--role",
        "ED",
        "--device-type",
        "ESME",
        "--status",
        "suspended",
    ) == {"eligible": False, "reason": "STATUS_RESPONSIBLE_SUPPLIER_ONLY"}
    assert _cli(
        "--variant",
        "4.14",
        "--role",
        "GS",
        "--device-type",
        "GSME",
        "--status",
        "commissioned",
        "--responsible",
        "--smets1",
    ) == {"eligible": False, "reason": "NOT_AVAILABLE_FOR_SMETS1"}


def test_cli_catalogue_filters_by_role_and_prints_json() -> None:
    result = CliRunner().invoke(main, ["catalogue", "--role", "GT", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert {d["variant"] for d in data} >= {"14.1", "6.2.8"}
    assert all("Gas Transporter" in d["roles"] for d in data)
    table = CliRunner().invoke(main, ["catalogue"])
    assert "129 variants" in table.output
