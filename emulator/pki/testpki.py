"""Our own test PKI: organisation and device certificates for labs and tests.

Every certificate says TEST where a person and a program can see it: the subject
and issuer common names start with ``TEST``, the organisation is ``smets-hil TEST
PKI``, and a certificate-policy extension carries `TEST_POLICY_OID`. Devices and
the DCC layer use `is_test_certificate` to refuse anything else in a lab, as the
SEC requires for test credentials.

Keys are derived from a seed, so the same lab seed gives the same keys on every
machine (golden tests and cross-process fleets rely on that); certificates are
signed freshly each time.

Certificate shapes follow SMKI: organisation certificates name the party in the
subject's x500UniqueIdentifier and its role in OU; device certificates have an
empty subject and the EUI-64 in a hardwareModuleName subjectAltName.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from emulator.gbcs.asn1 import DerObjectIdentifier, DerOctetString, DerSequence
from emulator.gbcs.eui import Eui64
from emulator.pki.folder import export_folder
from emulator.pki.keystore import KeyUsage, MemoryKeyStore

#: Policy OID marking our test certificates (a private arc under a documentation prefix).
TEST_POLICY_OID = ObjectIdentifier("1.3.6.1.4.1.55555.1.1")
TEST_ORGANISATION = "smets-hil TEST PKI"
_HARDWARE_MODULE_NAME = ObjectIdentifier("1.3.6.1.5.5.7.8.4")
_GB_DEVICE_HW_TYPE = ObjectIdentifier("1.2.826.0.1.8641679.1.2.1.1")
_VALID_FROM = _dt.datetime(2020, 1, 1, tzinfo=_dt.UTC)
_VALID_TO = _dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=_dt.UTC)
_N = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


class RemotePartyRole(IntEnum):
    """SMKI remote party roles, as in the organisation certificates' OU."""

    RECOVERY = 1
    SUPPLIER = 2
    NETWORK_OPERATOR = 3
    ACCESS_CONTROL_BROKER = 4
    TRANSITIONAL_COS = 5
    WAN_PROVIDER = 6
    ROOT = 7
    LOAD_CONTROLLER = 8
    OTHER_USER = 127


@dataclass(slots=True)
class Party:
    eui: Eui64
    name: str
    role: RemotePartyRole | None  # None for devices
    keys: dict[KeyUsage, ec.EllipticCurvePrivateKey] = field(default_factory=dict)
    certificates: dict[KeyUsage, x509.Certificate] = field(default_factory=dict)


def derive_key(seed: str, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePrivateKey:
    digest = hashlib.sha256(f"smets-hil/{seed}/{eui.compact}/{usage.value}".encode()).digest()
    scalar = int.from_bytes(digest, "big") % (_N - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def is_test_certificate(cert: x509.Certificate) -> bool:
    """True only for certificates our test PKI issued (policy and TEST names)."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return False
    if not any(p.policy_identifier == TEST_POLICY_OID for p in policies):
        return False
    issuer_cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return bool(issuer_cn) and str(issuer_cn[0].value).startswith("TEST")


class TestPki:
    """Issues and holds the certificates of one lab; `keystore` serves them."""

    __test__ = False  # not a pytest test class

    def __init__(self, seed: str = "smets-hil-lab") -> None:
        self.seed = seed
        self.keystore = MemoryKeyStore()
        self.parties: dict[bytes, Party] = {}
        self._root_key = derive_key(seed, Eui64(b"\xff" * 8), KeyUsage.DIGITAL_SIGNATURE)
        self.root = self._ca_certificate("TEST smets-hil Root CA", self._root_key, None)
        self._org_ca_key = derive_key(
            seed, Eui64(b"\xff" * 7 + b"\x01"), KeyUsage.DIGITAL_SIGNATURE
        )
        self.org_ca = self._ca_certificate(
            "TEST smets-hil Organisation CA", self._org_ca_key, self.root
        )
        self._dev_ca_key = derive_key(
            seed, Eui64(b"\xff" * 7 + b"\x02"), KeyUsage.DIGITAL_SIGNATURE
        )
        self.device_ca = self._ca_certificate(
            "TEST smets-hil Device CA", self._dev_ca_key, self.root
        )

    # -- issuing ----------------------------------------------------------------------
    def remote_party(
        self,
        eui: Eui64 | str,
        role: RemotePartyRole,
        name: str,
        *,
        prepayment: bool | None = None,
    ) -> Party:
        """DS and KA keys and certificates (and PP-KA for suppliers, by default)."""
        eui = Eui64(eui)
        party = Party(eui, name, role)
        usages = [KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_AGREEMENT]
        if prepayment if prepayment is not None else role == RemotePartyRole.SUPPLIER:
            usages.append(KeyUsage.PREPAYMENT_KEY_AGREEMENT)
        for usage in usages:
            key = derive_key(self.seed, eui, usage)
            cert = self._org_certificate(eui, role, name, usage, key)
            party.keys[usage] = key
            party.certificates[usage] = cert
            self.keystore.add_private_key(eui, usage, key)
            self.keystore.add_certificate(eui, usage, cert)
        self.parties[bytes(eui)] = party
        return party

    def device(self, eui: Eui64 | str, name: str = "device") -> Party:
        eui = Eui64(eui)
        party = Party(eui, name, None)
        for usage in (KeyUsage.DIGITAL_SIGNATURE, KeyUsage.KEY_AGREEMENT):
            key = derive_key(self.seed, eui, usage)
            cert = self._device_certificate(eui, usage, key)
            party.keys[usage] = key
            party.certificates[usage] = cert
            self.keystore.add_private_key(eui, usage, key)
            self.keystore.add_certificate(eui, usage, cert)
        self.parties[bytes(eui)] = party
        return party

    def export(self, folder: str | Path, *, include_private: bool = True) -> list[Path]:
        """Certificates and keys in the RTDS keystore naming, plus the CA chain."""
        entries = []
        for party in self.parties.values():
            for usage, cert in party.certificates.items():
                key = party.keys.get(usage) if include_private else None
                entries.append((party.eui, usage, cert, key))
        written = export_folder(folder, entries)
        chain = Path(folder) / "test-ca-chain.pem"
        chain.write_bytes(
            b"".join(
                c.public_bytes(serialization.Encoding.PEM)
                for c in (self.root, self.org_ca, self.device_ca)
            )
        )
        return [*written, chain]

    # -- certificate shapes ---------------------------------------------------------
    def _serial(self, label: str) -> int:
        return (
            int.from_bytes(hashlib.sha256(f"{self.seed}/{label}".encode()).digest()[:15], "big") | 1
        )

    def _ca_certificate(
        self, cn: str, key: ec.EllipticCurvePrivateKey, parent: x509.Certificate | None
    ) -> x509.Certificate:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANISATION),
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
            ]
        )
        issuer = parent.subject if parent is not None else subject
        signer = self._root_key if parent is not None else key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(self._serial(cn))
            .not_valid_before(_VALID_FROM)
            .not_valid_after(_VALID_TO)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(_test_policy(), critical=False)
        )
        return builder.sign(signer, hashes.SHA256())

    def _leaf(
        self,
        subject: x509.Name,
        issuer: x509.Certificate,
        signer: ec.EllipticCurvePrivateKey,
        usage: KeyUsage,
        key: ec.EllipticCurvePrivateKey,
        label: str,
    ) -> x509.CertificateBuilder:
        signing = usage == KeyUsage.DIGITAL_SIGNATURE
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject)
            .public_key(key.public_key())
            .serial_number(self._serial(label))
            .not_valid_before(_VALID_FROM)
            .not_valid_after(_VALID_TO)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=signing,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=not signing,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(_test_policy(), critical=False)
        )

    def _org_certificate(
        self,
        eui: Eui64,
        role: RemotePartyRole,
        name: str,
        usage: KeyUsage,
        key: ec.EllipticCurvePrivateKey,
    ) -> x509.Certificate:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"TEST {name} {usage.value.upper()}"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANISATION),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{role.value:02d}"),
                x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, _bit_string_id(eui)),
            ]
        )
        builder = self._leaf(
            subject, self.org_ca, self._org_ca_key, usage, key, f"{eui.compact}/{usage.value}"
        )
        return builder.sign(self._org_ca_key, hashes.SHA256())

    def _device_certificate(
        self, eui: Eui64, usage: KeyUsage, key: ec.EllipticCurvePrivateKey
    ) -> x509.Certificate:
        hw = device_identity_name(eui)
        builder = self._leaf(
            x509.Name([]),
            self.device_ca,
            self._dev_ca_key,
            usage,
            key,
            f"{eui.compact}/{usage.value}",
        ).add_extension(x509.SubjectAlternativeName([hw]), critical=True)
        return builder.sign(self._dev_ca_key, hashes.SHA256())


def device_identity_name(eui: Eui64) -> x509.OtherName:
    """The subjectAltName entry naming a device: hardwareModuleName with its EUI-64."""
    return x509.OtherName(_HARDWARE_MODULE_NAME, _hardware_module_name(eui))


def _test_policy() -> x509.CertificatePolicies:
    return x509.CertificatePolicies(
        [x509.PolicyInformation(TEST_POLICY_OID, ["smets-hil TEST certificate"])]
    )


def _bit_string_id(eui: Eui64) -> str:
    # x500UniqueIdentifier is a BIT STRING; cryptography takes text for name
    # attributes, so the EUI-64 goes in as its hex form (readable, unambiguous).
    return eui.compact.upper()


def _hardware_module_name(eui: Eui64) -> bytes:
    """DER of HardwareModuleName ::= SEQUENCE { hwType OID, hwSerialNum OCTET STRING }."""
    return DerSequence(
        [DerObjectIdentifier(_GB_DEVICE_HW_TYPE.dotted_string), DerOctetString(bytes(eui))]
    ).encode()


def eui_from_certificate(cert: x509.Certificate) -> Eui64 | None:
    """The EUI-64 a certificate names: device SAN or organisation unique identifier."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for name in san.get_values_for_type(x509.OtherName):
            if name.type_id == _HARDWARE_MODULE_NAME and len(name.value) >= 10:
                return Eui64(name.value[-8:])
    except x509.ExtensionNotFound:
        pass
    attrs = cert.subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER)
    if attrs:
        text = attrs[0].value
        raw = text if isinstance(text, bytes) else str(text).encode()
        if len(raw) == 16:
            try:
                return Eui64(raw.decode())
            except ValueError:
                return None
        if len(raw) >= 8:
            return Eui64(raw[-8:])
    return None
