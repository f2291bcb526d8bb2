"""Issue 15, the template sweep's leftovers: values that name the use case count as
carried only when the route taken is theirs; the 6.23 supplier floors and
certificates, the 7.9 / 7.10 boost button switches and the 3.2 GPF restriction time
go into their commands."""

from __future__ import annotations

import base64
import datetime as _dt

import pytest
from duis_support import METER, SUPPLIER, request_xml

from emulator.gbcs.asn1 import DerConstructed
from emulator.gbcs.dlms.apdu import AccessRequest
from emulator.gbcs.dlms.axdr import Boolean
from emulator.gbcs.zcl.gbz import GbzPayload
from emulator.premises import lab_pki
from hil.dcc.commands import BuildContext, build_command
from hil.dcc.routes import route
from hil.dcc.templates import zigbee
from hil.duis.transform import Transformed, transform
from hil.duis.xml import parse, read_request


def _t(body: str, variant: str, device_type: str) -> Transformed:
    return transform(read_request(parse(request_xml(body, variant))), device_type=device_type)


@pytest.fixture(scope="module")
def ctx() -> BuildContext:
    pki, _ = lab_pki("duis-choice")
    return BuildContext(
        now=_dt.datetime(2026, 3, 2, tzinfo=_dt.UTC), keystore=pki.keystore, device_types={}
    )


def _log(which: str) -> str:
    read = f"<sr:LogToRead>{which}</sr:LogToRead>"
    return f"<sr:ReadEventOrSecurityLog>{read}</sr:ReadEventOrSecurityLog>"


def test_a_value_naming_the_use_case_is_carried_only_when_its_route_is_taken() -> None:
    esme = _t(_log("PowerEvent"), "6.13", "ESME")
    assert esme.option == "power" and esme.unmapped == []
    # a GSME has no power event log: the default route reads another log, so the
    # body's choice is reported as not carried
    gsme = _t(_log("PowerEvent"), "6.13", "GSME")
    assert gsme.option is None and gsme.unmapped == ["LogToRead=PowerEvent"]
    assert _t(_log("Event"), "6.13", "GSME").unmapped == []


def _der(n: int) -> str:
    return base64.b64encode(bytes((0x30, 3, 2, 1, n))).decode()


def test_a_network_operator_handover_takes_the_network_operator_route() -> None:
    body = (
        "<sr:RequestHandoverOfDCCControlledDevice>"
        "<sr:RemotePartyRole>NetworkOperator</sr:RemotePartyRole>"
        "<sr:RemotePartyFloorSeqNumber>4</sr:RemotePartyFloorSeqNumber>"
        f"<sr:ReplacementCertificates><sr:DigitalSigningCertificate>{_der(1)}"
        f"</sr:DigitalSigningCertificate><sr:KeyAgreementCertificate>{_der(2)}"
        "</sr:KeyAgreementCertificate></sr:ReplacementCertificates>"
        "</sr:RequestHandoverOfDCCControlledDevice>"
    )
    t = _t(body, "6.21", "GPF")
    assert t.option == "network_operator" and t.unmapped == []
    assert route("6.21", "GPF", t.option).use_case == "CS02bNOByNOHandover"
    assert t.params["certificates"] == [base64.b64decode(_der(n)) for n in (1, 2)]


def test_change_of_supplier_credentials_carry_the_supplier_floors(ctx: BuildContext) -> None:
    body = (
        "<sr:UpdateSecurityCredentialsCoS>"
        "<sr:SupplierFloorSeqNumber>5</sr:SupplierFloorSeqNumber>"
        "<sr:SupplierPrepaymentTopUpFloorSeqNumber>9</sr:SupplierPrepaymentTopUpFloorSeqNumber>"
        "<sr:SupplierReplacementCertificates>"
        f"<sr:DigitalSigningCertificate>{_der(1)}</sr:DigitalSigningCertificate>"
        f"<sr:KeyAgreementCertificate>{_der(2)}</sr:KeyAgreementCertificate>"
        f"<sr:KeyAgreementTopUpCertificate>{_der(3)}</sr:KeyAgreementTopUpCertificate>"
        "</sr:SupplierReplacementCertificates>"
        "<sr:ImportMPxN>1312345678333</sr:ImportMPxN>"
        "</sr:UpdateSecurityCredentialsCoS>"
    )
    t = _t(body, "6.23", "ESME")
    assert t.unmapped == []
    # the DCC's registration check takes it (`Dcc._check_mpxn`), not the command
    assert t.params.pop("import_mpxn") == "1312345678333"
    t.params.pop("execution_time", None)
    built = build_command(route("6.23", "ESME"), 5, SUPPLIER, METER, t.params, ctx)
    tree = built.payload
    assert isinstance(tree, DerConstructed)
    control, replacements = tree.items[:2]
    assert isinstance(replacements, DerConstructed)
    cells = [c.items[0].encode() for c in replacements.items]  # type: ignore[attr-defined]
    assert cells == [base64.b64decode(_der(n)) for n in (1, 2, 3)]
    # the supplier's floor change: role 2, floor 5, prepayment top-up floor 9
    change = bytes.fromhex("301002010202010530083006020100020109")
    assert change in control.encode()


def _boost(element: str, service: str, flags: dict[int, str]) -> str:
    items = "".join(f'<sr:{element} index="{i}">{v}</sr:{element}>' for i, v in flags.items())
    return f"<sr:{service}>{items}</sr:{service}>"


@pytest.mark.parametrize(
    ("variant", "element", "service", "value"),
    [
        ("7.9", "AddToBoostButton", "AddAuxiliaryLoadToBoostButton", True),
        ("7.10", "RemoveFromBoostButton", "RemoveAuxiliaryLoadFromBoostButton", False),
    ],
)
def test_only_the_switches_named_true_change_their_boost_button(
    ctx: BuildContext, variant: str, element: str, service: str, value: bool
) -> None:
    t = _t(_boost(element, service, {2: "true", 3: "false", 5: "true"}), variant, "ESME")
    assert t.unmapped == []
    built = build_command(route(variant, "ESME"), 5, SUPPLIER, METER, t.params, ctx)
    assert isinstance(built.payload, AccessRequest)
    assert [str(s.instance) for s in built.payload.specs] == ["0-0:94.44.6.2", "0-0:94.44.6.5"]
    assert [d.value for d in built.payload.data if isinstance(d, Boolean)] == [value, value]


def test_the_gpf_change_of_tenancy_takes_the_restriction_time(ctx: BuildContext) -> None:
    body = (
        "<sr:RestrictAccessForChangeOfTenancy><sr:RestrictionDateTime>2026-03-10T00:00:00Z"
        "</sr:RestrictionDateTime></sr:RestrictAccessForChangeOfTenancy>"
    )
    t = _t(body, "3.2", "GPF")
    assert t.unmapped == []
    built = build_command(route("3.2", "GPF"), 5, SUPPLIER, METER, t.params, ctx)
    assert isinstance(built.payload, GbzPayload)
    fields = built.payload.components[0].frame.fields or {}
    assert fields["implementation_date_time"] == zigbee(_dt.datetime(2026, 3, 10, tzinfo=_dt.UTC))
