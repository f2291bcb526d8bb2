"""ASN.1 use cases (emulator/devices/credentials.py): joins, firmware, credentials, gas clock."""

from __future__ import annotations

import datetime as _dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from devices_support import (
    Lab,
    build_lab,
    der,
    der_command,
    issue_certificate,
    send,
)

from emulator.devices.anchors import AnchorRole
from emulator.gbcs import crypto
from emulator.gbcs.asn1 import (
    Der,
    DerBitString,
    DerConstructed,
    DerEnumerated,
    DerInteger,
    DerNull,
    DerOctetString,
    DerSequence,
    DerString,
    decode_der,
)
from emulator.gbcs.eui import Eui64
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import device_identity_name

CS02a, CS02c, CS02d, CS02e, CS02f = 0x0008, 0x000A, 0x000B, 0x000C, 0x011B
CS03A1, CS03B, CS04AC, CS04B, CS06, CS07, GCS28 = (
    0x000D,
    0x000E,
    0x000F,
    0x0010,
    0x0012,
    0x0013,
    0x007F,
)
SIGNING = DerBitString(7, b"\x80")
KEY_AGREEMENT = DerBitString(3, b"\x08")
PAIRED = Eui64("00-DB-12-34-56-78-90-99")
IMAGE = b"firmware image 01000001"


@pytest.fixture
def lab() -> Lab:
    return build_lab()


def _items(node: Der) -> list[Der]:
    assert isinstance(node, DerConstructed), node
    return node.items


def _join_request(eui: Eui64, device_type: int) -> Der:
    return DerSequence([DerInteger(0), DerOctetString(bytes(eui)), DerInteger(device_type)])


def _join_details(lab: Lab) -> dict[Eui64, int]:
    response = der(send(lab.gsme, der_command(lab.supplier, lab.gsme, CS07, DerNull())))
    result, rows = _items(response)
    assert result == DerInteger(0)
    found = {}
    for row in _items(rows):
        eui, kind = _items(row)
        assert isinstance(eui, DerOctetString) and isinstance(kind, DerInteger)
        found[Eui64(eui.value)] = kind.value
    return found


# -- joins ------------------------------------------------------------------------------------


def test_join_read_and_unjoin_on_the_gas_meter(lab: Lab) -> None:
    gsme = lab.gsme
    assert _join_details(lab) == {}
    join = der_command(lab.supplier, gsme, CS03B, _join_request(PAIRED, 3))
    assert der(send(gsme, join)) == DerInteger(0)
    assert _join_details(lab) == {PAIRED: 3}
    unjoin = der_command(lab.supplier, gsme, CS04B, DerOctetString(bytes(PAIRED)))
    assert der(send(gsme, unjoin)) == DerInteger(0)
    assert _join_details(lab) == {}
    again = der_command(lab.supplier, gsme, CS04B, DerOctetString(bytes(PAIRED)))
    assert der(send(gsme, again)) == DerInteger(1)  # nothing to unjoin


def test_critical_join_and_unjoin_on_the_electricity_meter(lab: Lab) -> None:
    esme = lab.esme
    join = der_command(lab.supplier, esme, CS03A1, _join_request(PAIRED, 4), critical=True)
    response = send(esme, join)
    assert lab.verifier.verify(response).signature is True
    assert der(response) == DerInteger(0)
    assert esme.han_pairings == {bytes(PAIRED): 4}
    unjoin = der_command(lab.supplier, esme, CS04AC, DerOctetString(bytes(PAIRED)), critical=True)
    assert der(send(esme, unjoin)) == DerInteger(0)
    assert esme.han_pairings == {}


def test_a_join_into_a_full_device_log_is_refused_with_code_4(lab: Lab) -> None:
    """GBCS CS03 response code 4, Device Log Full; the log keeps what it held."""
    gsme = lab.gsme
    gsme.device_log_capacity = 2
    held = {b"\x01" * 8: 5, b"\x02" * 8: 6}
    gsme.han_pairings.update(held)
    join = der_command(lab.supplier, gsme, CS03B, _join_request(PAIRED, 3))
    assert der(send(gsme, join)) == DerInteger(4)
    assert gsme.han_pairings == held
    rejoin = der_command(lab.supplier, gsme, CS03B, _join_request(Eui64(b"\x01" * 8), 5))
    assert der(send(gsme, rejoin)) == DerInteger(0)  # a partner already in the log


def test_malformed_join_is_refused_by_result(lab: Lab) -> None:
    bad = der_command(lab.supplier, lab.gsme, CS03B, DerSequence([DerInteger(0)]))
    assert der(send(lab.gsme, bad)) == DerInteger(2)
    assert _join_details(lab) == {}


# -- firmware -------------------------------------------------------------------------------------


def _activate(lab: Lab, digest: bytes, *extra: Der) -> Der:
    command = der_command(
        lab.supplier,
        lab.esme,
        CS06,
        DerSequence([DerOctetString(digest), DerInteger(1), *extra]),
        critical=True,
    )
    response = send(lab.esme, command)
    assert response.header.date_time is not None
    return der(response)


def test_cs06_activates_the_held_image(lab: Lab) -> None:
    esme = lab.esme
    digest = hashlib.sha256(IMAGE).digest()
    esme.pending_image_hash, esme.pending_image_version = digest, "01000001"
    assert esme.firmware_version == "01000000"
    assert _activate(lab, digest) == DerSequence(
        [DerInteger(0), DerOctetString(bytes.fromhex("01000001"))]
    )
    assert esme.firmware_version == "01000001"
    assert esme.pending_image_hash is None
    # a second activation has no image left to activate
    assert _activate(lab, digest) == DerSequence(
        [DerInteger(1), DerOctetString(bytes.fromhex("01000001"))]
    )


def test_cs06_without_a_held_image_fails(lab: Lab) -> None:
    esme = lab.esme
    assert _activate(lab, hashlib.sha256(IMAGE).digest()) == DerSequence(
        [DerInteger(1), DerOctetString(bytes.fromhex("01000000"))]
    )
    esme.pending_image_hash, esme.pending_image_version = b"\x01" * 32, "01000001"
    result = _activate(lab, hashlib.sha256(IMAGE).digest())  # another image's hash
    assert _items(result)[0] == DerInteger(2)  # hash mismatch (1 is "no image held")
    assert esme.firmware_version == "01000000"


def test_future_dated_cs06_activates_on_time(lab: Lab) -> None:
    esme = lab.esme
    digest = hashlib.sha256(IMAGE).digest()
    esme.pending_image_hash, esme.pending_image_version = digest, "01000001"
    at = DerString(24, b"20260302120000Z")
    assert _activate(lab, digest, at) == DerNull()
    assert esme.firmware_version == "01000000"
    lab.advance(_dt.timedelta(hours=2, seconds=1))
    esme.catch_up()
    assert esme.firmware_version == "01000001"


# -- CS02a / CS02f: trust anchor report ---------------------------------------------------------


def _ski(key: ec.EllipticCurvePublicKey) -> bytes:
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return hashlib.sha1(point).digest()[-8:]


@pytest.mark.parametrize("code", [CS02a, CS02f], ids=["CS02a", "CS02f"])
def test_credentials_report(lab: Lab, code: int) -> None:
    esme = lab.esme
    request = DerSequence(
        [
            DerSequence([DerInteger(4), KEY_AGREEMENT]),
            DerSequence([DerInteger(2), DerInteger(3), DerInteger(5), DerInteger(6)]),
        ]
    )
    response = send(esme, der_command(lab.acb, esme, code, request))
    assert response.mac is not None and not response.signature
    supplier, operator, trans_cos, wan = _items(der(response))
    assert _items(trans_cos) == [DerInteger(5), DerEnumerated(127)]  # held, never reported
    assert _items(wan) == [DerInteger(6), DerEnumerated(25)]  # meters have no WAN cell
    number, status, _, details = _items(supplier)
    assert (number, status) == (DerInteger(2), DerEnumerated(0))
    party = lab.premises.parties[AnchorRole.SUPPLIER]
    keys = {u: k.public_key() for u, k in party.keys.items()}
    assert [tuple(_items(d)) for d in _items(details)] == [
        (
            SIGNING,
            DerOctetString(bytes(party.eui)),
            DerOctetString(_ski(keys[KeyUsage.DIGITAL_SIGNATURE])),
        ),
        (
            KEY_AGREEMENT,
            DerOctetString(bytes(party.eui)),
            DerOctetString(_ski(keys[KeyUsage.KEY_AGREEMENT])),
        ),
        (
            KEY_AGREEMENT,
            DerInteger(1),
            DerOctetString(bytes(party.eui)),
            DerOctetString(_ski(keys[KeyUsage.PREPAYMENT_KEY_AGREEMENT])),
        ),
    ]
    assert _items(operator)[:2] == [DerInteger(3), DerEnumerated(0)]


# -- CS02c / CS02d / CS02e: device credentials -------------------------------------------------


def _request_csr(lab: Lab, usage: DerBitString) -> x509.CertificateSigningRequest:
    command = der_command(lab.supplier, lab.esme, CS02c, DerSequence([usage]), critical=True)
    response = send(lab.esme, command)
    assert lab.verifier.verify(response).signature is True
    return x509.load_der_x509_csr(der(response).encode())


def _san_euis(extension: x509.SubjectAlternativeName) -> list[bytes]:
    """EUI-64s of hardwareModuleName entries (RFC 4108: hwType OID, hwSerialNum)."""
    euis = []
    for name in extension.get_values_for_type(x509.OtherName):
        assert name.type_id.dotted_string == "1.3.6.1.5.5.7.8.4"
        _hw_type, serial = _items(decode_der(name.value))
        assert isinstance(serial, DerOctetString)
        euis.append(serial.value)
    return euis


@pytest.mark.parametrize(
    ("usage", "key_usage"),
    [(SIGNING, KeyUsage.DIGITAL_SIGNATURE), (KEY_AGREEMENT, KeyUsage.KEY_AGREEMENT)],
    ids=["signing", "key agreement"],
)
def test_cs02c_returns_a_csr_for_a_new_key(
    lab: Lab, usage: DerBitString, key_usage: KeyUsage
) -> None:
    esme = lab.esme
    csr = _request_csr(lab, usage)
    assert csr.is_signature_valid
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert _san_euis(san) == [bytes(esme.eui)]
    assert device_identity_name(esme.eui) in san
    ku = csr.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature == (key_usage == KeyUsage.DIGITAL_SIGNATURE)
    assert ku.key_agreement == (key_usage == KeyUsage.KEY_AGREEMENT)
    pending = esme.pending_keys[key_usage]
    assert csr.public_key() == pending.public_key()
    assert esme.own_keys[key_usage].public_key() != pending.public_key()  # not yet in use


def _install(lab: Lab, cert: x509.Certificate) -> Der:
    payload = decode_der(cert.public_bytes(serialization.Encoding.DER))
    return der(send(lab.esme, der_command(lab.supplier, lab.esme, CS02d, payload, critical=True)))


def test_cs02d_installs_the_certificate_for_the_pending_key(lab: Lab) -> None:
    esme = lab.esme
    public = _request_csr(lab, SIGNING).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    cert = issue_certificate(lab, lab.esme, public)
    assert _install(lab, cert) == DerInteger(0)
    assert KeyUsage.DIGITAL_SIGNATURE not in esme.pending_keys
    assert esme.own_certificates[KeyUsage.DIGITAL_SIGNATURE] == cert
    # the device now signs with the new key
    response = send(lab.esme, lab.supplier.command("7.2", esme.eui))
    crypto.verify(public, response.signed_data(), response.signature)
    # CS02e hands out the new certificate
    read = der_command(lab.supplier, esme, CS02e, DerSequence([SIGNING]), critical=True)
    assert der(send(esme, read)).encode() == cert.public_bytes(serialization.Encoding.DER)


def test_cs02d_refuses_a_certificate_for_an_unknown_key(lab: Lab) -> None:
    esme = lab.esme
    _request_csr(lab, SIGNING)
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    before = esme.own_keys[KeyUsage.DIGITAL_SIGNATURE]
    assert _install(lab, issue_certificate(lab, lab.esme, stranger)) == DerInteger(3)
    assert esme.own_keys[KeyUsage.DIGITAL_SIGNATURE] is before
    assert KeyUsage.DIGITAL_SIGNATURE in esme.pending_keys


def test_cs02d_refuses_a_certificate_with_both_key_usages(lab: Lab) -> None:
    public = _request_csr(lab, SIGNING).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert _install(lab, issue_certificate(lab, lab.esme, public, both=True)) == DerInteger(3)


# -- GCS28: gas meter clock ---------------------------------------------------------------------


def _gcs28(lab: Lab, start: str, end: str) -> list[Der]:
    window = DerSequence([DerString(24, start.encode()), DerString(24, end.encode())])
    command = der_command(lab.supplier, lab.gsme, GCS28, window, critical=True)
    return _items(der(send(lab.gsme, command)))


def test_gcs28_accepts_a_window_holding_the_meter_time(lab: Lab) -> None:
    now = DerString(24, b"20260302100000Z")
    assert _gcs28(lab, "20260302093000Z", "20260302103000Z") == [now, DerInteger(0)]
    assert _gcs28(lab, "20260302100000Z", "20260302100000Z") == [now, DerInteger(0)]


@pytest.mark.parametrize(
    ("start", "end"),
    [("20260302100001Z", "20260302110000Z"), ("20260302080000Z", "20260302095959Z"), ("x", "y")],
    ids=["window in the future", "window in the past", "not a time"],
)
def test_gcs28_refuses_a_window_without_the_meter_time(lab: Lab, start: str, end: str) -> None:
    assert _gcs28(lab, start, end) == [DerString(24, b"20260302100000Z"), DerInteger(2)]
