"""XML signatures on DUIS messages (XMLDSig, ECDSA P-256, SHA-256, exclusive c14n).

DUIS messages carry an enveloped `ds:Signature` whose `KeyInfo` names the signing
certificate by issuer and serial number (`X509IssuerSerial`), as DCC Boxed and its
public signing tool do. The verifier therefore needs the certificates up front:
`XmlCredentials` holds the users' XML-signing certificates (ZAZ1 role 135) and the
DCC's own (role 137) by EUI-64, keyed also by issuer and serial. Boxed's signing tool
also signs with a few ZAZ1 GBCS digital-signing certificates (`BOXED_TOOL_SIGNERS`),
and with any certificate and key given on its command line: the ZAZ1 GBCS signers
loaded (`ZAZ1_GBCS_SIGNERS`) are the tool's own and the load controller's
(`COMMAND_LINE_SIGNERS`), so a request it signs for those originators verifies here too.

Only test credentials are accepted: every certificate must be issued by a test
organisation CA (`TEST_ISSUERS`) and name the EUI-64 it is held for; anything else
is refused when loaded.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import SignatureMethod
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from emulator.gbcs.eui import Eui64
from hil.errors import HilError

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
#: ZAZ1 remote-party roles of XML-signing certificates: a user's, the DCC's.
USER_XML_ROLE = 135
DCC_XML_ROLE = 137
#: ZAZ1 GBCS digital-signing certificates (by their name in the ZAZ1 store) that DCC
#: Boxed's XML signing tool signs and validates DUIS XML with, besides the role 135 / 137
#: keys: SmartDCCInnovation/dccboxed-signing-tool, `CertificateLibrary.java` (as built
#: into the jar of @smartdcc/duis-sign-wrap 0.1.2, tool 1.0.6). The tool picks the key by
#: the RequestID's originator, i.e. by the EUI-64 the certificate names: recovery
#: 90-B3-D5-1F-30-00-00-01 (role 1), supplier2 90-B3-D5-1F-30-03-00-00 (role 2),
#: transitional CoS 90-B3-D5-1F-30-00-00-04 (role 5), WAN provider
#: 90-B3-D5-1F-30-00-00-07 (role 6).
BOXED_TOOL_SIGNERS = frozenset(
    {"Z1-recovery-ds", "Z1-supplier2-ds", "Z1-transitionalCoS-ds", "Z1-wanProvider-ds"}
)
#: ZAZ1 GBCS digital-signing certificates that are not in the tool's list but are the
#: only key ZAZ1 gives a DUIS sender, so a Boxed user signs with them by naming them on
#: the tool's command line (`Sign - --preserveCounter CERT KEY`): the load controller
#: 90-B3-D5-1F-30-01-00-08 (role 8), the originator of the DCC's own 7.16 templates.
COMMAND_LINE_SIGNERS = frozenset({"Z1-loadController-ds"})
#: Every ZAZ1 GBCS digital-signing certificate the server takes as a DUIS signer, each
#: for the one EUI-64 its certificate names.
ZAZ1_GBCS_SIGNERS = BOXED_TOOL_SIGNERS | COMMAND_LINE_SIGNERS
#: Issuers of test organisation certificates: the ZAZ1 test CA and our own test PKI.
TEST_ISSUERS = frozenset({"CN=Z1,OU=07", "CN=SMETS-HIL TEST XML CA,OU=07"})
#: The subject attribute that carries an organisation certificate's EUI-64 (X.520 uniqueIdentifier).
_UNIQUE_ID = x509.ObjectIdentifier("2.5.4.45")


class SigningError(HilError):
    """A DUIS signature that does not verify, or credentials that cannot be used."""


@dataclass(frozen=True)
class Credential:
    """A signer: `role` is its certificate's ZAZ1 remote-party role (135 for a user's
    XML-signing key, 137 for the DCC's, a GBCS role for `ZAZ1_GBCS_SIGNERS`)."""

    eui: Eui64
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey | None = field(default=None, repr=False)
    role: int = USER_XML_ROLE

    @property
    def issuer(self) -> str:
        return self.certificate.issuer.rfc4514_string()

    @property
    def serial(self) -> int:
        return self.certificate.serial_number


def _check_test(cred: Credential, where: str) -> None:
    """A signer is trusted for one originator only: the EUI-64 its certificate names."""
    issuer = cred.issuer
    if _normal_name(issuer) not in {_normal_name(n) for n in TEST_ISSUERS}:
        raise SigningError(
            f"{where}: certificate issued by {issuer!r} is not a test certificate;"
            " only test credentials are accepted"
        )
    named = subject_eui(cred.certificate)
    if named is None or bytes(named) != bytes(cred.eui):
        raise SigningError(
            f"{where}: certificate names {named if named is not None else 'no EUI-64'},"
            f" not {cred.eui}"
        )


def subject_eui(cert: x509.Certificate) -> Eui64 | None:
    """The EUI-64 in a certificate's subject uniqueIdentifier: a BIT STRING as ZAZ1
    writes it (unused-bits octet, then 8 bytes), or hex text as `make_credential` does."""
    for attribute in cert.subject.get_attributes_for_oid(_UNIQUE_ID):
        value = attribute.value
        try:
            if isinstance(value, bytes):
                return Eui64(value[1:] if len(value) == 9 and value[0] == 0 else value)
            return Eui64(value)
        except (ValueError, TypeError):
            return None
    return None


@dataclass
class XmlCredentials:
    """Users' XML-signing certificates (with keys when known) and the DCC's own."""

    users: dict[bytes, Credential] = field(default_factory=dict)
    dcc: Credential | None = None

    def add_user(self, cred: Credential) -> None:
        _check_test(cred, f"user {cred.eui}")
        self.users[bytes(cred.eui)] = cred

    def set_dcc(self, cred: Credential) -> None:
        _check_test(cred, f"DCC {cred.eui}")
        self.dcc = cred

    def by_issuer_serial(self, issuer: str, serial: int) -> Credential | None:
        wanted = _normal_name(issuer)
        for cred in [*self.users.values(), *([self.dcc] if self.dcc else [])]:
            if cred.serial == serial and _normal_name(cred.issuer) == wanted:
                return cred
        return None

    def user(self, eui: Eui64 | bytes) -> Credential | None:
        return self.users.get(bytes(eui))

    @classmethod
    def from_zaz1(cls, path: str | Path) -> XmlCredentials:
        """The entries of a ZAZ1 JSON key store (DCC Boxed's public test set) that DCC
        Boxed's signing tool signs DUIS XML with: the XML-signing keys and
        `ZAZ1_GBCS_SIGNERS`. A user's XML key is preferred over a GBCS entry for the
        same EUI-64 (the store Boxed publishes has no such pair)."""
        try:
            data: dict[str, Any] = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise SigningError(f"{path}: not a readable ZAZ1 JSON file ({exc})") from exc
        if not isinstance(data, dict):
            raise SigningError(f"{path}: not a ZAZ1 key store (no EUI-64 map)")
        creds = cls()
        gbcs: list[Credential] = []
        for eui_text, usages in data.items():
            entries = usages.get("digitalSignature") if isinstance(usages, dict) else None
            if not isinstance(entries, dict):
                continue  # no signing certificates for this EUI-64 (key agreement only)
            for serial, entry in entries.items():
                if not isinstance(entry, dict):
                    raise SigningError(
                        f"{path}: {eui_text}: digitalSignature {serial}: not an entry"
                    )
                role, name = entry.get("role"), entry.get("name")
                if role not in (USER_XML_ROLE, DCC_XML_ROLE) and name not in ZAZ1_GBCS_SIGNERS:
                    continue
                where = f"{path}: {eui_text}: digitalSignature {serial} ({name})"
                try:
                    eui = Eui64(eui_text)
                except ValueError as exc:
                    raise SigningError(f"{where}: not an EUI-64 ({exc})") from exc
                if not isinstance(role, int):
                    raise SigningError(f"{where}: role {role!r} is not a number")
                cred = _credential(eui, entry, where, role)
                _check_test(cred, where)
                if role == USER_XML_ROLE:
                    creds.add_user(cred)
                elif role == DCC_XML_ROLE:
                    creds.set_dcc(cred)
                else:
                    gbcs.append(cred)
        for cred in gbcs:
            if creds.user(cred.eui) is None:
                creds.add_user(cred)
        if creds.dcc is None:
            raise SigningError(f"{path}: no DCC XML-signing credential (role {DCC_XML_ROLE})")
        return creds


def _credential(eui: Eui64, entry: dict[str, Any], where: str, role: int) -> Credential:
    try:
        cert = x509.load_pem_x509_certificate(entry["certificate"].encode())
        key = None
        if entry.get("privateKey"):
            loaded = serialization.load_pem_private_key(entry["privateKey"].encode(), None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise SigningError(f"{where}: XML-signing key is not an EC key")
            key = loaded
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise SigningError(f"{where}: unusable certificate or key ({exc})") from exc
    return Credential(eui, cert, key, role)


def _normal_name(name: str) -> str:
    """A distinguished name compared without order or spacing ("CN=Z1, OU=07")."""
    return ",".join(sorted(part.strip().upper() for part in name.split(",")))


def make_credential(
    eui: Eui64 | str, *, now: _dt.datetime | None = None, serial: int | None = None
) -> Credential:
    """A fresh XML-signing credential from our own test CA name (for labs and tests)."""
    eui = Eui64(eui)
    key = ec.generate_private_key(ec.SECP256R1())
    now = now or _dt.datetime(2020, 1, 1, tzinfo=_dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(_UNIQUE_ID, bytes(eui).hex().upper()),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "87"),
        ]
    )
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "SMETS-HIL TEST XML CA"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "07"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _dt.timedelta(days=365 * 100))
        .sign(key, hashes.SHA256())
    )
    return Credential(eui, cert, key)


def _key_info(cred: Credential) -> etree._Element:
    info = etree.Element(f"{{{DS}}}KeyInfo", nsmap={"ds": DS})
    data = etree.SubElement(info, f"{{{DS}}}X509Data")
    pair = etree.SubElement(data, f"{{{DS}}}X509IssuerSerial")
    etree.SubElement(pair, f"{{{DS}}}X509IssuerName").text = cred.issuer
    etree.SubElement(pair, f"{{{DS}}}X509SerialNumber").text = str(cred.serial)
    return info


def sign(root: etree._Element, cred: Credential) -> bytes:
    """`root` signed (enveloped, last child) by `cred`, as bytes with an XML declaration."""
    if cred.private_key is None:
        raise SigningError(f"no private key for {cred.eui}")
    for old in root.findall(f"{{{DS}}}Signature"):
        root.remove(old)
    signer = XMLSigner(
        signature_algorithm=SignatureMethod.ECDSA_SHA256,
        digest_algorithm="sha256",
        c14n_algorithm=EXC_C14N,
    )
    signer.namespaces = {"ds": DS}
    cert_pem = cred.certificate.public_bytes(serialization.Encoding.PEM).decode()
    signed = signer.sign(root, key=cred.private_key, cert=cert_pem, key_info=_key_info(cred))
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


def signer_of(root: etree._Element) -> tuple[str, int]:
    """The issuer name and serial number a signature's KeyInfo names."""
    name = root.findtext(f"{{{DS}}}Signature/{{{DS}}}KeyInfo//{{{DS}}}X509IssuerName")
    serial = root.findtext(f"{{{DS}}}Signature/{{{DS}}}KeyInfo//{{{DS}}}X509SerialNumber")
    if name is None or serial is None:
        raise SigningError("the signature names no certificate (X509IssuerSerial)")
    try:
        return name.strip(), int(serial.strip())
    except ValueError as exc:
        raise SigningError(f"X509SerialNumber {serial!r} is not a number") from exc


def verify(root: etree._Element, cred: Credential) -> None:
    """Check `root`'s enveloped signature against `cred`'s certificate.

    Its validity period is not checked, as DCC Boxed's signing tool does not (it checks
    against the named certificate's public key): the ZAZ1 GBCS certificates in the
    tool's list expired in 2025 and the tool still signs with them. Which certificates
    are trusted is decided when they are loaded (test issuer, the EUI-64 they name)."""
    cert_pem = cred.certificate.public_bytes(serialization.Encoding.PEM).decode()
    config = SignatureConfiguration(
        require_x509=False,
        signature_methods=frozenset({SignatureMethod.ECDSA_SHA256}),
        location="./",
        verification_time=cred.certificate.not_valid_before_utc,
    )
    try:
        XMLVerifier().verify(root, x509_cert=cert_pem, expect_config=config)
    except (InvalidSignature, InvalidInput) as exc:
        raise SigningError(f"signature does not verify: {exc}") from exc


def issue_lab_credentials(
    store: XmlCredentials, user_ids: Iterable[Eui64], directory: str | Path
) -> list[Eui64]:
    """XML-signing credentials from our test CA for the users the store has none for
    (ZAZ1 has no key for a Gas Transporter), added to the store and written to
    `directory` as `<EUI>-xml-key.pem` / `<EUI>-xml-cert.pem` for the user's tool."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    issued = []
    for eui in user_ids:
        if store.user(eui) is not None:
            continue
        cred = make_credential(eui)
        assert cred.private_key is not None
        stem = bytes(eui).hex().upper()
        (folder / f"{stem}-xml-key.pem").write_bytes(
            cred.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        (folder / f"{stem}-xml-cert.pem").write_bytes(
            cred.certificate.public_bytes(serialization.Encoding.PEM)
        )
        store.add_user(cred)
        issued.append(eui)
    return issued
