"""The DUIS lab (labs/boxed.yaml): DCC Boxed's ZAZ1 users and the devices the DUIS
templates name, so templates signed as Boxed's users reach lab users and devices."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from emulator.gbcs.eui import Eui64
from hil.dcc.catalogue import Role
from hil.dcc.inventory import DeviceKind, SmiStatus
from hil.dcc.lab import LabSpec
from hil.duis.server import DUIS_LAB
from hil.duis.signing import (
    Credential,
    XmlCredentials,
    issue_lab_credentials,
    make_credential,
    sign,
    verify,
)

#: ZAZ1 user IDs with an XML-signing key (role 135), by the lab role they act in.
ZAZ1_XML_USERS = {
    "90-B3-D5-1F-30-01-00-00": Role.IMPORT_SUPPLIER,
    "90-B3-D5-1F-30-02-00-00": Role.ELECTRICITY_DISTRIBUTOR,
    "00-DB-12-34-56-78-00-04": Role.OTHER_USER,
}


def test_zaz1_xml_users_are_lab_users() -> None:
    spec = LabSpec.from_file(DUIS_LAB)
    held = {(bytes(eui), role) for ids in spec.users.values() for role, eui in ids.items()}
    for eui, role in ZAZ1_XML_USERS.items():
        assert (bytes(Eui64(eui)), role) in held, (eui, role)


def test_zaz1_supplier2_is_a_supplier_not_the_meter_operator() -> None:
    """ZAZ1 holds GBCS supplier certificates (role 2) for 90-B3-D5-1F-30-03-00-00, so
    the 4.14 URP template's originator is a supplier in the DUIS lab."""
    spec = LabSpec.from_file(DUIS_LAB)
    roles = {
        role
        for ids in spec.users.values()
        for role, eui in ids.items()
        if bytes(eui) == bytes(Eui64("90-B3-D5-1F-30-03-00-00"))
    }
    assert roles == {Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}


def test_join_partners_of_the_templates_are_in_the_device_log() -> None:
    spec = LabSpec.from_file(DUIS_LAB)
    (premises,) = spec.premises
    devices = {d.suffix: d for d in premises.devices}
    wanted = {
        0x93: DeviceKind.ESME,
        0x94: DeviceKind.GSME,
        0x98: DeviceKind.PPMID,
        0x9A: DeviceKind.PPMID,
        0x9C: DeviceKind.IHD,
    }
    for suffix, kind in wanted.items():
        assert devices[suffix].kind == kind
        assert devices[suffix].status == SmiStatus.WHITELISTED  # joinable, not yet paired
    assert devices[0xA5].kind == DeviceKind.HCALCS and devices[0xA6].kind == DeviceKind.ESME


def test_lab_credentials_only_for_users_without_a_key(tmp_path: Path) -> None:
    store = XmlCredentials()
    supplier = Eui64("90-B3-D5-1F-30-01-00-00")
    transporter = Eui64("90-B3-D5-1F-30-02-00-10")
    store.add_user(make_credential(supplier))
    held = store.user(supplier)
    issued = issue_lab_credentials(store, [supplier, transporter], tmp_path / "keys")
    assert issued == [transporter]
    assert store.user(supplier) is held  # a ZAZ1 key is never replaced
    key = serialization.load_pem_private_key(
        (tmp_path / "keys" / "90B3D51F30020010-xml-key.pem").read_bytes(), None
    )
    cert = x509.load_pem_x509_certificate(
        (tmp_path / "keys" / "90B3D51F30020010-xml-cert.pem").read_bytes()
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    # what the user signs with the written files verifies against the store's record
    root = etree.fromstring(b'<r xmlns="urn:x"><a>1</a></r>')
    signed = sign(root, Credential(transporter, cert, key))
    cred = store.user(transporter)
    assert cred is not None
    verify(etree.fromstring(signed), cred)
