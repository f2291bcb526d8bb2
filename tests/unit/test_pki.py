"""Test PKI, key stores (memory, folder, chain, ZAZ1 JSON) and their errors."""

from __future__ import annotations

import base64
import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from emulator.errors import KeyNotFoundError, SecurityError
from emulator.gbcs import builder
from emulator.gbcs.asn1 import DerConstructed, DerNull, decode_der
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import decode_message
from emulator.gbcs.security import MessageSecurity
from emulator.pki.folder import FolderKeyStore, key_file_name, parse_key_file_name
from emulator.pki.keystore import (
    ChainKeyStore,
    KeyStore,
    KeyUsage,
    MemoryKeyStore,
    certificate_pem,
    load_pem_public,
    private_key_pem,
)
from emulator.pki.open import open_keystore
from emulator.pki.testpki import (
    TEST_ORGANISATION,
    TEST_POLICY_OID,
    RemotePartyRole,
    TestPki,
    derive_key,
    eui_from_certificate,
    is_test_certificate,
)
from emulator.pki.zaz1 import Zaz1KeyStore

S = Eui64("90-B3-D5-1F-30-01-00-00")
ACB = Eui64("90-B3-D5-1F-30-00-00-02")
D = Eui64("00-DB-12-34-56-78-90-A0")
DS, KA, PP = (
    KeyUsage.DIGITAL_SIGNATURE,
    KeyUsage.KEY_AGREEMENT,
    KeyUsage.PREPAYMENT_KEY_AGREEMENT,
)


def scalar(key: ec.EllipticCurvePrivateKey) -> int:
    return key.private_numbers().private_value


def point(key: ec.EllipticCurvePublicKey) -> tuple[int, int]:
    n = key.public_numbers()
    return n.x, n.y


def small_pki(seed: str) -> TestPki:
    pki = TestPki(seed=seed)
    pki.remote_party(S, RemotePartyRole.SUPPLIER, "supplier")
    pki.device(D)
    return pki


def self_signed(
    common_name: str = "Real CA", policy: bool = False
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    )
    if policy:
        b = b.add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(TEST_POLICY_OID, None)]),
            critical=False,
        )
    return b.sign(key, hashes.SHA256()), key


# -- TestPki ----------------------------------------------------------------------------------


def test_keys_are_deterministic_per_seed(pki: TestPki) -> None:
    a, b, c = small_pki("unit"), small_pki("unit"), small_pki("other")
    for eui, usage in ((S, DS), (S, KA), (S, PP), (D, DS), (D, KA)):
        ka, kb, kc = (p.keystore.private_key(eui, usage) for p in (a, b, c))
        assert scalar(ka) == scalar(kb) == scalar(pki.keystore.private_key(eui, usage))
        assert scalar(ka) != scalar(kc)
        assert point(a.keystore.public_key(eui, usage)) == point(kb.public_key())
    # every usage has its own key
    assert scalar(a.keystore.private_key(S, DS)) != scalar(a.keystore.private_key(S, KA))
    assert scalar(derive_key("unit", S, DS)) == scalar(a.keystore.private_key(S, DS))
    assert scalar(derive_key("unit", S, DS)) != scalar(derive_key("unit", D, DS))
    # CA keys too (certificates are signed afresh, keys are not)
    for ca in ("root", "org_ca", "device_ca"):
        assert point(getattr(a, ca).public_key()) == point(getattr(b, ca).public_key())
        assert point(getattr(a, ca).public_key()) != point(getattr(c, ca).public_key())


def test_certificates_are_marked_test(pki: TestPki) -> None:
    certs = [pki.root, pki.org_ca, pki.device_ca]
    for party in pki.parties.values():
        certs += list(party.certificates.values())
    assert len(certs) >= 10
    for cert in certs:
        assert is_test_certificate(cert)
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
        assert any(p.policy_identifier == TEST_POLICY_OID for p in policies)
        issuer_cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert str(issuer_cn).startswith("TEST")


def test_certificate_shapes(pki: TestPki) -> None:
    sup = pki.parties[bytes(S)]
    ds = sup.certificates[DS]
    subject = ds.subject
    assert str(subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value).startswith("TEST")
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == TEST_ORGANISATION
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "02"
    usage = ds.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_agreement
    ka_usage = sup.certificates[KA].extensions.get_extension_for_class(x509.KeyUsage).value
    assert ka_usage.key_agreement and not ka_usage.digital_signature
    device_cert = pki.parties[bytes(D)].certificates[DS]
    assert len(device_cert.subject) == 0
    # chain: root -> organisation / device CA -> leaves
    ds.verify_directly_issued_by(pki.org_ca)
    device_cert.verify_directly_issued_by(pki.device_ca)
    pki.org_ca.verify_directly_issued_by(pki.root)
    pki.device_ca.verify_directly_issued_by(pki.root)
    with pytest.raises(Exception):  # noqa: B017 - any verification failure
        device_cert.verify_directly_issued_by(pki.org_ca)


def test_non_test_certificates_are_refused() -> None:
    plain, _ = self_signed()
    assert not is_test_certificate(plain)
    policy_but_real_issuer, _ = self_signed("Real CA", policy=True)
    assert not is_test_certificate(policy_but_real_issuer)
    test_name_no_policy, _ = self_signed("TEST something")
    assert not is_test_certificate(test_name_no_policy)
    assert is_test_certificate(self_signed("TEST lab", policy=True)[0])


def test_eui_from_certificate(pki: TestPki) -> None:
    assert eui_from_certificate(pki.parties[bytes(D)].certificates[KA]) == D
    assert eui_from_certificate(pki.parties[bytes(S)].certificates[DS]) == S
    assert eui_from_certificate(pki.parties[bytes(ACB)].certificates[KA]) == ACB
    assert eui_from_certificate(self_signed()[0]) is None
    assert eui_from_certificate(pki.root) is None


def test_prepayment_keys_only_for_suppliers_by_default() -> None:
    pki = TestPki(seed="pp")
    sup = pki.remote_party(S, RemotePartyRole.SUPPLIER, "s")
    acb = pki.remote_party(ACB, RemotePartyRole.ACCESS_CONTROL_BROKER, "a")
    assert set(sup.keys) == {DS, KA, PP}
    assert set(acb.keys) == {DS, KA}
    assert not pki.keystore.has_private_key(ACB, PP)
    forced = pki.remote_party(
        "90-B3-D5-1F-30-00-00-09", RemotePartyRole.OTHER_USER, "o", prepayment=True
    )
    assert PP in forced.keys
    no_pp = TestPki(seed="pp").remote_party(S, RemotePartyRole.SUPPLIER, "s", prepayment=False)
    assert PP not in no_pp.keys


# -- export and FolderKeyStore ---------------------------------------------------------------


def test_export_layout(pki: TestPki, tmp_path: Path) -> None:
    written = pki.export(tmp_path)
    names = {p.name for p in written}
    assert "90b3d51f30010000-ds.pem" in names
    assert "90b3d51f30010000-pp-ka.key" in names
    assert "00db1234567890a0-ka.key" in names
    assert "test-ca-chain.pem" in names
    assert not any(n.startswith("90b3d51f30000002-pp-ka") for n in names)
    for path in written:
        assert path.is_file()
        if path.suffix == ".key":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    chain = (tmp_path / "test-ca-chain.pem").read_bytes()
    assert chain.count(b"BEGIN CERTIFICATE") == 3
    assert key_file_name(S, PP, private=True) == "90b3d51f30010000-pp-ka.key"


def test_folder_keystore_reads_an_export(pki: TestPki, tmp_path: Path) -> None:
    pki.export(tmp_path)
    store = FolderKeyStore(tmp_path)
    assert isinstance(store, KeyStore)
    for eui, usage in ((S, DS), (S, KA), (S, PP), (ACB, KA), (D, DS), (D, KA)):
        cert = store.certificate(eui, usage)
        assert cert == pki.keystore.certificate(eui, usage)
        assert scalar(store.private_key(eui, usage)) == scalar(pki.keystore.private_key(eui, usage))
        assert point(store.public_key(eui, usage)) == point(pki.keystore.public_key(eui, usage))
        assert store.has_private_key(eui, usage) and store.has_public_key(eui, usage)
    assert not store.has_private_key(ACB, PP)
    with pytest.raises(KeyNotFoundError):
        store.certificate(ACB, PP)
    # a MessageSecurity over the folder verifies what the in-memory PKI protected
    mem = MessageSecurity(pki.keystore, acb=ACB)
    folder = MessageSecurity(store, acb=ACB)
    raw = builder.protect(builder.command(0x13, 1, S, D, b"\x05\x00"), mem, critical=True).encode()
    result = folder.verify(decode_message(raw))
    assert (result.signature, result.mac) == (True, True)


def test_folder_keystore_load_all_and_entries(pki: TestPki, tmp_path: Path) -> None:
    pki.export(tmp_path)
    (tmp_path / "README.txt").write_text("not a key")
    store = FolderKeyStore(tmp_path)
    assert list(store.entries()) == []  # lazy
    store.load_all()
    entries = set(store.entries())
    assert (S, PP, True) in entries and (D, DS, True) in entries
    assert all(isinstance(e[0], Eui64) for e in entries)


def test_export_without_private_keys(pki: TestPki, tmp_path: Path) -> None:
    written = pki.export(tmp_path, include_private=False)
    assert not any(p.suffix == ".key" for p in written)
    store = FolderKeyStore(tmp_path)
    assert not store.has_private_key(S, DS)
    assert store.has_public_key(S, DS)
    with pytest.raises(KeyNotFoundError):
        store.private_key(S, DS)


def test_folder_keystore_bare_public_key(pki: TestPki, tmp_path: Path) -> None:
    """RTDS keystores hold some parties as `-----BEGIN PUBLIC KEY-----` files."""
    other = Eui64("00-DB-12-34-56-78-90-A1")
    key = derive_key("bare", other, DS)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    (tmp_path / key_file_name(other, DS, private=False)).write_bytes(pem)
    store = FolderKeyStore(tmp_path)
    assert store.has_public_key(other, DS)
    assert not store.has_certificate(other, DS)
    assert point(store.public_key(other, DS)) == point(key.public_key())
    with pytest.raises(KeyNotFoundError):
        store.certificate(other, DS)
    # a signature by that party verifies through the bare key
    signer = MemoryKeyStore()
    signer.add_private_key(other, DS, key)
    alert = builder.alert(0x1000, 5, other, S, b"\x05\x00")
    raw = MessageSecurity(signer).protect(alert, sign=True, mac=False).encode()
    assert MessageSecurity(store).verify(decode_message(raw)).signature is True


def test_certificate_that_strict_parsers_refuse(pki: TestPki, tmp_path: Path) -> None:
    """NULL parameters after ecdsa-with-SHA256: keep the public key anyway."""
    cert = pki.keystore.certificate(S, DS)
    tree = decode_der(cert.public_bytes(serialization.Encoding.DER))
    assert isinstance(tree, DerConstructed)
    for alg in (tree.items[0].items[2], tree.items[1]):  # type: ignore[attr-defined]
        alg.items.append(DerNull())
    der = tree.encode()
    with pytest.raises(ValueError):
        x509.load_der_x509_certificate(der)
    pem = (
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    )
    loaded, public = load_pem_public(pem)
    assert loaded is None and point(public) == point(cert.public_key())
    (tmp_path / key_file_name(S, DS, private=False)).write_bytes(pem)
    store = FolderKeyStore(tmp_path)
    assert point(store.public_key(S, DS)) == point(cert.public_key())
    assert store.has_public_key(S, DS)


def test_parse_key_file_name() -> None:
    assert parse_key_file_name("90b3d51f30010000-pp-ka.key") == (S, PP, True)
    assert parse_key_file_name("00db1234567890a0-ds.pem") == (D, DS, False)
    for bad in (
        "test-ca-chain.pem",
        "90b3d51f30010000-xx.pem",
        "90b3d51f3001000-ds.pem",
        "90b3d51f30010000_ds.pem",
        "90b3d51f30010000-ds.txt",
        "zzb3d51f30010000-ds.pem",
        "README",
    ):
        assert parse_key_file_name(bad) is None, bad


def test_folder_keystore_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FolderKeyStore(tmp_path / "nope")


def test_open_keystore(pki: TestPki, tmp_path: Path) -> None:
    pki.export(tmp_path / "lab")
    assert isinstance(open_keystore(tmp_path / "lab"), FolderKeyStore)
    with pytest.raises(FileNotFoundError):
        open_keystore(tmp_path / "missing")
    (tmp_path / "keys.txt").write_text("{}")
    with pytest.raises(FileNotFoundError):
        open_keystore(tmp_path / "keys.txt")


# -- ZAZ1 JSON --------------------------------------------------------------------------------


def _entry(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, name: str, role: int) -> dict:
    return {
        "certificate": certificate_pem(cert).decode(),
        "privateKey": private_key_pem(key).decode(),
        "name": name,
        "role": role,
    }


def test_zaz1_keystore(tmp_path: Path) -> None:
    z1, z1b = small_pki("z1"), small_pki("z1b")
    c = lambda p, u: p.keystore.certificate(S, u)  # noqa: E731
    k = lambda p, u: p.keystore.private_key(S, u)  # noqa: E731
    data = {
        S.compact.upper(): {
            "digitalSignature": {
                "a": _entry(c(z1b, DS), k(z1b, DS), "Z1b-SUP-DS", 2),
                "b": _entry(c(z1, DS), k(z1, DS), "Z1-SUP-DS", 2),
                "xml": _entry(c(z1b, KA), k(z1b, KA), "Z1-SUP-XML", 135),
            },
            "keyAgreement": {
                "a": _entry(c(z1, KA), k(z1, KA), "Z1-SUP-KA", 2),
                "b": _entry(c(z1, PP), k(z1, PP), "Z1-PP-SUP-KA", 2),
            },
        }
    }
    path = tmp_path / "zaz1.json"
    path.write_text(json.dumps(data))
    store = Zaz1KeyStore(path)
    assert isinstance(open_keystore(path), Zaz1KeyStore)
    assert scalar(store.private_key(S, DS)) == scalar(k(z1, DS))
    assert scalar(store.private_key(S, KA)) == scalar(k(z1, KA))
    assert scalar(store.private_key(S, PP)) == scalar(k(z1, PP))
    assert store.warnings == []
    newer = Zaz1KeyStore(path, generation="Z1b")
    assert scalar(newer.private_key(S, DS)) == scalar(k(z1b, DS))


# -- chains, memory stores and errors ----------------------------------------------------------


def test_chain_keystore_ordering() -> None:
    a = TestPki(seed="chain-a")
    a.remote_party(S, RemotePartyRole.SUPPLIER, "s")
    b = small_pki("chain-b")
    ab = ChainKeyStore([a.keystore, b.keystore])
    ba = ChainKeyStore([b.keystore, a.keystore])
    assert scalar(ab.private_key(S, DS)) == scalar(a.keystore.private_key(S, DS))
    assert scalar(ba.private_key(S, DS)) == scalar(b.keystore.private_key(S, DS))
    assert point(ab.public_key(S, KA)) == point(a.keystore.public_key(S, KA))
    assert point(ba.public_key(S, KA)) == point(b.keystore.public_key(S, KA))
    assert ab.certificate(S, DS) == a.keystore.certificate(S, DS)
    assert ba.certificate(S, DS) == b.keystore.certificate(S, DS)
    # only the second store knows the device
    assert scalar(ab.private_key(D, KA)) == scalar(b.keystore.private_key(D, KA))
    assert ab.certificate(D, KA) == b.keystore.certificate(D, KA)
    assert ab.has_private_key(D, KA) and not ab.has_private_key(ACB, KA)
    for call in (ab.private_key, ab.public_key, ab.certificate):
        with pytest.raises(KeyNotFoundError):
            call(ACB, KA)
    with pytest.raises(KeyNotFoundError):
        ChainKeyStore([]).certificate(S, DS)


def test_chain_prefers_a_store_with_the_private_key() -> None:
    certs_only = MemoryKeyStore()
    full = small_pki("full")
    certs_only.add_certificate(S, DS, full.keystore.certificate(S, DS))
    chain = ChainKeyStore([certs_only, full.keystore])
    assert scalar(chain.private_key(S, DS)) == scalar(full.keystore.private_key(S, DS))
    assert chain.certificate(S, DS) == full.keystore.certificate(S, DS)


def test_memory_keystore_public_key_from_private_key() -> None:
    store = MemoryKeyStore()
    key = derive_key("mem", D, KA)
    store.add_private_key(D, KA, key)
    assert not store.has_certificate(D, KA)
    assert store.has_public_key(D, KA)
    assert point(store.public_key(D, KA)) == point(key.public_key())


def test_key_not_found_error_message() -> None:
    store = MemoryKeyStore()
    with pytest.raises(KeyNotFoundError) as info:
        store.private_key(D, KA)
    err = info.value
    assert str(err) == "no ka private key for 00-DB-12-34-56-78-90-A0"
    assert (err.eui, err.usage, err.private) == ("00-DB-12-34-56-78-90-A0", "ka", True)
    assert isinstance(err, KeyError) and isinstance(err, SecurityError)
    with pytest.raises(KeyNotFoundError) as info:
        store.certificate(S, PP)
    assert str(info.value) == "no pp-ka certificate for 90-B3-D5-1F-30-01-00-00"
    with pytest.raises(KeyNotFoundError, match="no ds certificate for 90-B3-D5-1F-30-01-00-00"):
        store.public_key(S, DS)
