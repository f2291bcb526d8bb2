"""8.5 / 8.6 over DUIS: the opt-out body's certificates, floor and CPV choice reach
the CS02b command; the opt-in answer carries the DCC's (ACB) certificates and brings a
withdrawn meter back. (The answer against the real v5.4 schema is checked in
tests/conformance/test_duis_opt_in.py.)"""

from __future__ import annotations

import base64
import datetime as _dt

from cryptography.hazmat.primitives import serialization
from duis_support import DCC, METER, SUPPLIER, request_xml
from lxml import etree

from emulator.gbcs.asn1 import DerConstructed
from emulator.gbcs.eui import Eui64
from emulator.pki.keystore import KeyUsage
from emulator.premises import lab_pki
from hil.dcc.commands import BuildContext, build_command
from hil.dcc.inventory import SmiStatus
from hil.dcc.lab import Lab
from hil.dcc.routes import route
from hil.duis.server import DuisServer
from hil.duis.signing import XmlCredentials, sign, verify
from hil.duis.transform import transform
from hil.duis.xml import parse, q, read_request

OPT_IN = """<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"
 schemaVersion="5.4"><sr:Header><sr:RequestID>{user}:{dcc}:{counter}</sr:RequestID>
 <sr:CommandVariant>8</sr:CommandVariant><sr:ServiceReference>8.6</sr:ServiceReference>
 <sr:ServiceReferenceVariant>8.6</sr:ServiceReferenceVariant></sr:Header>
 <sr:Body><sr:ServiceOptIn><sr:DeviceID>{device}</sr:DeviceID><sr:DeviceType>ESME</sr:DeviceType>
 <sr:MPxNs><sr:ImportMPxN>1312345678111</sr:ImportMPxN></sr:MPxNs>
 <sr:OptInDate>{day}</sr:OptInDate></sr:ServiceOptIn></sr:Body></sr:Request>"""


def _der(eui: Eui64, usage: KeyUsage, keystore: object) -> bytes:
    cert = keystore.certificate(eui, usage)  # type: ignore[attr-defined]
    return bytes(cert.public_bytes(serialization.Encoding.DER))


def test_opt_out_body_reaches_the_command() -> None:
    pki, _ = lab_pki("duis-opt-out")
    ctx = BuildContext(
        now=_dt.datetime(2026, 3, 2, 10, tzinfo=_dt.UTC), keystore=pki.keystore, device_types={}
    )
    entries = list(pki.keystore.entries())
    # any two distinct certificates of the lab PKI stand for the template's new ACB
    # certificate and its certification path (not the DCC's defaults)
    certs = sorted({_der(Eui64(e), u, pki.keystore) for e, u, _ in entries})[:2]
    new_acb, path = certs
    body = (
        "<sr:ServiceOptOut><sr:ExecutionDateTime>2026-03-20T09:00:00Z</sr:ExecutionDateTime>"
        "<sr:ACBFloorSeqNumber>300</sr:ACBFloorSeqNumber><sr:ReplacementCertificates>"
        f"<sr:KeyAgreementCertificate>{base64.b64encode(new_acb).decode()}"
        "</sr:KeyAgreementCertificate></sr:ReplacementCertificates>"
        "<sr:CertificationPathCertificates>"
        f"<sr:Certificate>{base64.b64encode(path).decode()}</sr:Certificate>"
        "</sr:CertificationPathCertificates>"
        "<sr:ApplyTimeBasedCPVChecks>false</sr:ApplyTimeBasedCPVChecks></sr:ServiceOptOut>"
    )
    t = transform(read_request(parse(request_xml(body, "8.5"))), device_type="ESME")
    assert t.unmapped == [] and "execution_time" not in t.params
    assert t.params["disapply_cpv_checks"] is True
    built = build_command(route("8.5", "ESME"), 5, SUPPLIER, METER, t.params, ctx)
    payload = built.payload
    assert isinstance(payload, DerConstructed)
    control, replacements, certification_path = payload.items[:3]
    assert len(payload.items) == 3  # held by the DCC: no execution date-time
    encoded_control = control.encode()
    assert encoded_control.endswith(b"\x84\x02\x01\x2c")  # ACB floor 300
    assert b"\x81\x01\x01" in encoded_control  # time-based CPV checks disapplied
    assert new_acb in replacements.encode()
    assert certification_path.encode().endswith(path)


def _opt_in(creds: XmlCredentials, counter: int, day: str, device: str = METER) -> bytes:
    cred = creds.users[bytes(Eui64(SUPPLIER))]
    text = OPT_IN.format(user=SUPPLIER, dcc=DCC, counter=counter, device=device, day=day)
    return sign(etree.fromstring(text.encode()), cred)


async def test_opt_in_answers_the_acb_certificates_and_restores(
    lab_server: tuple[Lab, DuisServer], creds: XmlCredentials
) -> None:
    lab, server = lab_server
    assert lab.dcc is not None
    esme = Eui64(METER)
    lab.inventory.withdraw(esme, "8.5 service opt out")
    status, body = server.receive("D", _opt_in(creds, 1, lab.clock.now().date().isoformat()))
    answer = parse(body)
    assert creds.dcc is not None
    verify(answer, creds.dcc)
    assert status == 200 and answer.findtext(f".//{q('ResponseCode')}") == "I0"
    opt_in = answer.find(f".//{q('DSPOptIn')}")
    assert opt_in is not None
    names = [etree.QName(e).localname for e in opt_in]
    assert names[0] == "DeviceID" and names[-1] == "DSPBrokerSecurityCredentialsKeyAgreement"
    assert opt_in.findtext(q("DeviceID")) == METER
    ka = base64.b64decode(opt_in.findtext(q("DSPBrokerSecurityCredentialsKeyAgreement")) or "")
    assert ka == _der(lab.dcc.acb, KeyUsage.KEY_AGREEMENT, lab.dcc.keystore)
    assert lab.inventory[esme].status == SmiStatus.COMMISSIONED


async def test_opt_in_for_a_device_not_on_the_smi_is_refused(
    lab_server: tuple[Lab, DuisServer], creds: XmlCredentials
) -> None:
    _lab, server = lab_server
    _status, body = server.receive("D", _opt_in(creds, 2, "2026-01-05", "00-11-22-33-44-55-66-77"))
    answer = parse(body)
    assert answer.findtext(f".//{q('ResponseCode')}") == "E19"
    assert answer.find(f".//{q('DSPOptIn')}") is None
