"""DCC users: EUI-64 user IDs, the only shareable role sets, organisation certificates."""

from __future__ import annotations

import pytest

from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import RemotePartyRole, TestPki, is_test_certificate
from hil.dcc.catalogue import Role
from hil.dcc.users import UserError, UserRegistry, parse_user_id, shared_id_allowed

IS, ES, GS = Role.IMPORT_SUPPLIER, Role.EXPORT_SUPPLIER, Role.GAS_SUPPLIER
ED, GT = Role.ELECTRICITY_DISTRIBUTOR, Role.GAS_TRANSPORTER


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        ({IS, GS}, True),
        ({IS, ES, GS}, True),
        ({ES, GS}, False),
        ({IS, ES}, False),
        ({ED, GT}, False),
        ({IS, ED}, False),
        ({GS, GT}, False),
        ({Role.OTHER_USER, Role.REGISTERED_SUPPLIER_AGENT}, False),
        ({ED}, True),
    ],
)
def test_only_import_gas_and_import_export_gas_may_share_an_id(
    roles: set[Role], allowed: bool
) -> None:
    assert shared_id_allowed(roles) is allowed
    registry = UserRegistry()
    ids = dict.fromkeys(roles, "90-B3-D5-1F-30-01-00-00")
    if allowed:
        user = registry.add("party", ids)
        assert user.roles == roles
    else:
        with pytest.raises(UserError, match="cannot be shared"):
            registry.add("party", ids)
        assert len(registry) == 0


def test_an_id_belongs_to_one_party() -> None:
    registry = UserRegistry()
    registry.add("first", {IS: "90-B3-D5-1F-30-01-00-00"})
    with pytest.raises(UserError, match="already belongs to first"):
        registry.add("second", {GS: "90-B3-D5-1F-30-01-00-00"})
    with pytest.raises(UserError, match="already registered"):
        registry.add("first", {ED: "90-B3-D5-1F-30-02-00-00"})


@pytest.mark.parametrize(
    "bad", ["90-B3-D5-1F-30-01-00", "zz-B3-D5-1F-30-01-00-00", "0" * 16, "F" * 16]
)
def test_user_ids_must_be_eui64(bad: str) -> None:
    with pytest.raises(UserError):
        parse_user_id(bad)


def test_user_lookup_by_name_and_id() -> None:
    registry = UserRegistry()
    user = registry.add("supplier", {IS: "90-B3-D5-1F-30-01-00-00", GS: "90-B3-D5-1F-30-01-00-00"})
    assert registry["supplier"] is user
    found = registry.by_id(user.id_for(GS))
    assert found is not None and found[0] is user and found[1] == {IS, GS}
    with pytest.raises(UserError, match="not a user in role"):
        user.id_for(ED)
    with pytest.raises(UserError, match="unknown user"):
        registry["nobody"]


def test_each_user_id_gets_test_organisation_certificates() -> None:
    pki = TestPki("users-test")
    registry = UserRegistry(pki)
    supplier = registry.add("supplier", {IS: "90-B3-D5-1F-30-01-00-00"})
    dno = registry.add("dno", {ED: "90-B3-D5-1F-30-02-00-00"})
    app = registry.add("app", {Role.OTHER_USER: "90-B3-D5-1F-30-04-00-00"})
    s = supplier.party_for(IS)
    assert s.role == RemotePartyRole.SUPPLIER
    assert KeyUsage.PREPAYMENT_KEY_AGREEMENT in s.certificates  # suppliers sign UTRNs
    assert dno.party_for(ED).role == RemotePartyRole.NETWORK_OPERATOR
    assert app.party_for(Role.OTHER_USER).role == RemotePartyRole.OTHER_USER
    for party in (s, dno.party_for(ED)):
        cert = party.certificates[KeyUsage.DIGITAL_SIGNATURE]
        assert is_test_certificate(cert)
        assert pki.keystore.private_key(party.eui, KeyUsage.DIGITAL_SIGNATURE) is not None
