"""KDF, ECDSA, AES-GCM and message-level security, checked against independent code.

The independent side uses hashlib and `cryptography` directly with the layouts
written out byte by byte (GBCS section 5):

    key       = SHA-256(00000001 || Z || OtherInfo)[0:16]
    OtherInfo = 60 85 74 06 08 03 00 || originator(8) || 09 || mode || counter(8) || recipient(8)
    MAC       = GCM tag (12 bytes) over AAD = 11 00 00 00 00 00 || DF .. signature field,
                IV = grouping-header originator || 00000000, empty plaintext
"""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emulator.errors import KeyNotFoundError, MacError, SignatureError
from emulator.gbcs import builder, crypto
from emulator.gbcs.dlms.apdu import AccessResponse, ResponseSpec, SpecKind
from emulator.gbcs.dlms.axdr import (
    Array,
    Enum,
    LongUnsigned,
    OctetString,
    Structure,
    VisibleString,
)
from emulator.gbcs.eui import Eui64
from emulator.gbcs.frame import Cra, GbcsMessage, OtherInformation, decode_message
from emulator.gbcs.inspection import inspect_message
from emulator.gbcs.payload import (
    decode_message_payload,
    decrypt_payload,
    open_blob,
    seal_blob,
    try_decrypt,
)
from emulator.gbcs.security import MessageSecurity
from emulator.gbcs.zcl.gbz import EncryptedPayload, GbzComponent, GbzPayload, ZclFrame
from emulator.gbcs.zcl.types import ZclValue
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import TestPki

S = Eui64("90-B3-D5-1F-30-01-00-00")
D = Eui64("00-DB-12-34-56-78-90-A0")
ACB = Eui64("90-B3-D5-1F-30-00-00-02")
PPMID = Eui64("00-DB-12-34-56-78-90-A4")
KA = KeyUsage.KEY_AGREEMENT
DS = KeyUsage.DIGITAL_SIGNATURE
COUNTER = 0x0100000000000123


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# -- independent reference computations ------------------------------------------------------


def ref_z(pki: TestPki, a: Eui64, b: Eui64, a_usage: KeyUsage = KA) -> bytes:
    return pki.keystore.private_key(a, a_usage).exchange(ec.ECDH(), pki.keystore.public_key(b, KA))


def ref_key(z: bytes, originator: Eui64, mode: int, counter: int, recipient: Eui64) -> bytes:
    other_info = (
        h("60 85 74 06 08 03 00")
        + bytes(originator)
        + h("09")
        + bytes((mode,))
        + counter.to_bytes(8, "big")
        + bytes(recipient)
    )
    assert len(other_info) == 33
    return hashlib.sha256(h("00000001") + z + other_info).digest()[:16]


def ref_mac(key: bytes, originator: Eui64, raw: bytes) -> bytes:
    """MAC of an encoded DD 00 message (short-form L: DF at offset 13)."""
    assert raw[:7] == h("DD 00 00 00 00 00 00") and raw[7] < 0x80 and raw[13] == 0xDF
    aad = h("11 00 00 00 00 00") + raw[13:-12]
    return AESGCM(key).encrypt(bytes(originator) + bytes(4), b"", aad)[:12]


def ref_verify_signature(pki: TestPki, signer: Eui64, msg: GbcsMessage) -> None:
    assert msg.raw is not None and msg.spans is not None and msg.signature
    df, _, payload_end, _ = msg.spans
    signed = msg.raw[df + 1 : payload_end]
    r = int.from_bytes(msg.signature[:32], "big")
    s = int.from_bytes(msg.signature[32:], "big")
    pki.keystore.public_key(signer, DS).verify(
        encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256())
    )


def ref_seal(key: bytes, device: Eui64, plaintext: bytes) -> bytes:
    full = AESGCM(key).encrypt(bytes(device) + bytes(4), plaintext, b"\x31")
    n = len(plaintext)
    return h("31 00000000") + full[:n] + full[n : n + 12]


# -- KDF ------------------------------------------------------------------------------------


def test_kdf_other_info_written_out() -> None:
    other = crypto.kdf_other_info(bytes(S), 1, COUNTER, bytes(D))
    assert other == h(
        "60 85 74 06 08 03 00  90 B3 D5 1F 30 01 00 00  09 01"
        "  01 00 00 00 00 00 01 23  00 DB 12 34 56 78 90 A0"
    )


@pytest.mark.parametrize("mode", [1, 2, 3, 4])
def test_kdf_matches_hashlib(mode: int) -> None:
    z = bytes(range(32))
    expected = hashlib.sha256(
        h("00 00 00 01")
        + z
        + h("60 85 74 06 08 03 00")
        + h("90 B3 D5 1F 30 01 00 00")
        + h("09")
        + bytes((mode,))
        + h("01 00 00 00 00 00 01 23")
        + h("00 DB 12 34 56 78 90 A0")
    ).digest()[:16]
    assert crypto.derive_key(z, bytes(S), mode, COUNTER, bytes(D)) == expected


def test_kdf_depends_on_every_input() -> None:
    z = bytes(range(32))
    base = crypto.derive_key(z, bytes(S), 1, COUNTER, bytes(D))
    assert len(base) == 16
    assert crypto.derive_key(bytes(32), bytes(S), 1, COUNTER, bytes(D)) != base
    assert crypto.derive_key(z, bytes(D), 1, COUNTER, bytes(D)) != base
    assert crypto.derive_key(z, bytes(S), 2, COUNTER, bytes(D)) != base
    assert crypto.derive_key(z, bytes(S), 1, COUNTER + 1, bytes(D)) != base
    assert crypto.derive_key(z, bytes(S), 1, COUNTER, bytes(S)) != base


def test_ecdh_is_symmetric(pki: TestPki) -> None:
    ks = pki.keystore
    z1 = crypto.shared_secret(ks.private_key(ACB, KA), ks.public_key(D, KA))
    z2 = crypto.shared_secret(ks.private_key(D, KA), ks.public_key(ACB, KA))
    assert z1 == z2 and len(z1) == 32


def test_message_security_shared_secret_from_either_side(
    pki: TestPki, security: MessageSecurity
) -> None:
    assert security.shared_secret(ACB, D) == ref_z(pki, ACB, D)
    assert security.shared_secret(D, ACB) == ref_z(pki, ACB, D)
    pp = security.shared_secret(S, D, KeyUsage.PREPAYMENT_KEY_AGREEMENT, KA)
    assert pp == ref_z(pki, S, D, KeyUsage.PREPAYMENT_KEY_AGREEMENT)
    assert pp != security.shared_secret(S, D)


def test_shared_secret_without_private_keys(pki: TestPki) -> None:
    from emulator.pki.keystore import MemoryKeyStore

    certs_only = MemoryKeyStore()
    for eui in (S, D):
        certs_only.add_certificate(eui, KA, pki.keystore.certificate(eui, KA))
    with pytest.raises(KeyNotFoundError):
        MessageSecurity(certs_only).shared_secret(S, D)


# -- ECDSA ----------------------------------------------------------------------------------


def test_sign_verify_round_trip(pki: TestPki) -> None:
    key = pki.keystore.private_key(S, DS)
    data = b"general-signing bytes"
    sig = crypto.sign(key, data)
    assert len(sig) == 64
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    key.public_key().verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    crypto.verify(key.public_key(), data, sig)
    assert crypto.is_valid_signature(key.public_key(), data, sig)
    assert not crypto.is_valid_signature(key.public_key(), data + b"!", sig)
    other = pki.keystore.public_key(D, DS)
    assert not crypto.is_valid_signature(other, data, sig)


@pytest.mark.parametrize("sig", [b"", bytes(63), bytes(65), bytes(64), bytes(32) + b"\x01" * 32])
def test_malformed_signatures(pki: TestPki, sig: bytes) -> None:
    with pytest.raises(SignatureError):
        crypto.verify(pki.keystore.public_key(S, DS), b"data", sig)


# -- AES-GCM --------------------------------------------------------------------------------

# McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 1-4 (AES-128).
K3 = h("feffe9928665731c6d6a8f9467308308")
IV3 = h("cafebabefacedbaddecaf888")
P3 = h(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
)
C3 = h(
    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
    "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985"
)


def test_gmac_known_vector() -> None:
    tag = h("58e2fccefa7e3061367f1d57a4e7455a")
    assert crypto.gmac(bytes(16), bytes(12), b"", 16) == tag
    assert crypto.gmac(bytes(16), bytes(12), b"") == tag[:12]


def test_encrypt_known_vectors() -> None:
    ct = crypto.encrypt(bytes(16), bytes(12), b"", bytes(16))
    assert ct == h("0388dace60b6a392f328c2b971b2fe78") + h("ab6e47d42cec13bdf53a67b21257bddf")[:12]
    ct3 = crypto.encrypt(K3, IV3, b"", P3)
    assert ct3 == C3 + h("4d5c2af327cd64a62cf35abd2ba6fab4")[:12]
    aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    ct4 = crypto.encrypt(K3, IV3, aad, P3[:60])
    assert ct4 == C3[:60] + h("5bc94fbc3221a5db94fae95ae7121a47")[:12]
    assert crypto.decrypt(K3, IV3, aad, ct4) == P3[:60]


def test_gmac_equals_gcm_tag_over_aad() -> None:
    key, iv, aad = bytes(range(16)), bytes(S) + bytes(4), b"\x11" + bytes(5) + b"payload"
    assert crypto.gmac(key, iv, aad) == AESGCM(key).encrypt(iv, b"", aad)[:12]
    crypto.check_gmac(key, iv, aad, crypto.gmac(key, iv, aad))
    with pytest.raises(MacError):
        crypto.check_gmac(key, iv, aad + b"x", crypto.gmac(key, iv, aad))


def test_encrypt_decrypt_round_trip_and_tamper() -> None:
    key, iv, aad, pt = bytes(range(16)), crypto.iv_for(D), b"\x31", b"sensitive reading"
    sealed = crypto.encrypt(key, iv, aad, pt)
    assert len(sealed) == len(pt) + 12
    assert crypto.decrypt(key, iv, aad, sealed) == pt
    for i in range(len(sealed)):
        bad = bytearray(sealed)
        bad[i] ^= 0x01
        with pytest.raises(MacError):
            crypto.decrypt(key, iv, aad, bytes(bad))
    with pytest.raises(MacError):
        crypto.decrypt(key, iv, b"\x30", sealed)
    with pytest.raises(MacError):
        crypto.decrypt(key, crypto.iv_for(S), aad, sealed)
    with pytest.raises(MacError):
        crypto.decrypt(key, iv, aad, sealed[:11])


def test_iv_for() -> None:
    assert crypto.iv_for(S) == h("90B3D51F30010000 00000000")
    assert crypto.iv_for(S, 5) == h("90B3D51F30010000 00000005")


# -- message protection: one test per message kind --------------------------------------------


def _command(code: int = 0x0013, counter: int = COUNTER) -> GbcsMessage:
    return builder.command(code, counter, S, D, h("0500"))


def test_critical_command(pki: TestPki, security: MessageSecurity) -> None:
    raw = builder.protect(_command(), security, critical=True).encode()
    msg = decode_message(raw)
    assert msg.is_signed and msg.is_maced
    ref_verify_signature(pki, S, msg)
    # command MAC: ACB KA <-> device KA, originator/1/counter/recipient
    key = ref_key(ref_z(pki, ACB, D), S, 1, COUNTER, D)
    assert msg.mac == ref_mac(key, S, raw)
    result = security.verify(msg)
    assert (result.signature, result.mac, result.errors) == (True, True, [])
    assert result.ok


def test_noncritical_command(pki: TestPki, security: MessageSecurity) -> None:
    raw = builder.protect(_command(), security, critical=False).encode()
    msg = decode_message(raw)
    assert msg.signature == b"" and msg.is_maced
    assert raw[-13] == 0x00  # signature field 00 before the MAC
    key = ref_key(ref_z(pki, ACB, D), S, 1, COUNTER, D)
    assert msg.mac == ref_mac(key, S, raw)
    result = security.verify(msg)
    assert (result.signature, result.mac) == (None, True)


def test_critical_response(pki: TestPki, security: MessageSecurity) -> None:
    response = builder.response(_command(), h("020100"))
    assert (response.counter, response.message_code) == (COUNTER, 0x0013)
    assert (response.originator, response.recipient) == (D, S)
    raw = builder.protect(response, security, critical=True).encode()
    assert raw[0] == 0xDF
    msg = decode_message(raw)
    assert msg.is_signed and not msg.is_maced
    ref_verify_signature(pki, D, msg)
    result = security.verify(msg)
    assert (result.signature, result.mac) == (True, None)


def test_noncritical_response(pki: TestPki, security: MessageSecurity) -> None:
    response = builder.response(_command(), h("020100"))
    raw = builder.protect(response, security, critical=False).encode()
    msg = decode_message(raw)
    key = ref_key(ref_z(pki, D, S), D, 2, COUNTER, S)
    assert msg.mac == ref_mac(key, D, raw)
    assert security.verify(msg).mac is True


@pytest.mark.parametrize("recipient", [S, ACB])
def test_noncritical_alert(pki: TestPki, security: MessageSecurity, recipient: Eui64) -> None:
    alert = builder.alert(0x1001, 0x0000000000000042, D, recipient, h("0500"))
    raw = builder.protect(alert, security, critical=False).encode()
    msg = decode_message(raw)
    assert msg.cra is Cra.ALERT
    key = ref_key(ref_z(pki, D, recipient), D, 3, 0x42, recipient)
    assert msg.mac == ref_mac(key, D, raw)
    assert security.verify(msg).mac is True


def test_critical_alert(pki: TestPki, security: MessageSecurity) -> None:
    alert = builder.alert(0x1000, 0x43, D, S, h("0500"))
    msg = decode_message(builder.protect(alert, security, critical=True).encode())
    assert msg.is_signed and not msg.is_maced
    ref_verify_signature(pki, D, msg)
    assert security.verify(msg).signature is True


def test_han_only_command_is_keyed_between_the_devices(
    pki: TestPki, security: MessageSecurity
) -> None:
    pki.device(PPMID, "unit PPMID")
    cmd = builder.command(0x009B, 0x0000000000000007, PPMID, D, h("0500"))
    raw = builder.protect(cmd, security, critical=False).encode()
    msg = decode_message(raw)
    han_key = ref_key(ref_z(pki, PPMID, D), PPMID, 1, 7, D)
    acb_key = ref_key(ref_z(pki, ACB, D), PPMID, 1, 7, D)
    assert han_key != acb_key
    assert msg.mac == ref_mac(han_key, PPMID, raw)
    assert security.verify(msg).mac is True
    # a normal remote-party code with the same bytes is ACB-keyed instead
    remote = builder.command(0x0013, 7, PPMID, D, h("0500"))
    raw_remote = builder.protect(remote, security, critical=False).encode()
    assert raw_remote[-12:] == ref_mac(acb_key, PPMID, raw_remote)


def test_signed_cs02a_style_command_without_mac(pki: TestPki, security: MessageSecurity) -> None:
    signed = security.protect(_command(0x0008), sign=True, mac=False)
    msg = decode_message(signed.encode())
    assert msg.is_signed and not msg.is_maced
    ref_verify_signature(pki, S, msg)
    assert security.verify(msg).signature is True


def test_sign_precommand_then_dcc_macs(pki: TestPki, security: MessageSecurity) -> None:
    pre = builder.precommand(builder.protect(_command(), security, critical=False))
    assert pre.encode()[0] == 0xDF and pre.is_precommand
    signed = security.protect(pre, sign=True, mac=False)
    full = builder.sign_precommand(pre, security)
    msg = decode_message(full.encode())
    assert msg.is_signed and msg.is_maced
    ref_verify_signature(pki, S, msg)
    # the DCC keeps the user's signature (protect without sign does not re-sign)
    kept = security.protect(signed, sign=False, mac=True)
    assert kept.signature == signed.signature
    assert security.verify(msg).ok


@pytest.mark.parametrize("critical", [True, False])
@pytest.mark.parametrize("kind", ["command", "response", "alert"])
def test_tampered_payload_fails_verification(
    security: MessageSecurity, kind: str, critical: bool
) -> None:
    if kind == "command":
        msg = _command()
    elif kind == "response":
        msg = builder.response(_command(), h("020100"))
    else:
        msg = builder.alert(0x1001, 0x42, D, S, h("0500"))
    raw = bytearray(builder.protect(msg, security, critical=critical).encode())
    payload_at = raw.index(h("0500") if kind != "response" else h("020100"))
    raw[payload_at + 1] ^= 0x01
    result = security.verify(decode_message(bytes(raw)))
    assert not result.ok
    assert result.signature is not True and result.mac is not True
    assert False in (result.signature, result.mac)


def test_missing_keys_are_a_note_not_a_failure(security: MessageSecurity) -> None:
    stranger = Eui64("11-22-33-44-55-66-77-88")
    other = TestPki(seed="other")
    other.remote_party(stranger, other_role(), "stranger")
    other.device(D)
    other.remote_party(ACB, other_role(acb=True), "acb")
    theirs = MessageSecurity(other.keystore, acb=ACB)
    cmd = builder.command(0x0013, 1, stranger, D, h("0500"))
    msg = decode_message(builder.protect(cmd, theirs, critical=True).encode())
    result = security.verify(msg)
    assert result.signature is None
    assert any(
        e.startswith("signature not checked") and "11-22-33-44-55-66-77-88" in e
        for e in result.errors
    )
    assert result.mac is False  # our ACB/device keys differ from the other lab's
    assert not result.ok


def other_role(acb: bool = False) -> object:
    from emulator.pki.testpki import RemotePartyRole

    return RemotePartyRole.ACCESS_CONTROL_BROKER if acb else RemotePartyRole.SUPPLIER


def test_unsupported_security_control(security: MessageSecurity) -> None:
    msg = _command()
    msg.security_control = 0x10
    protected = security.protect(msg, sign=False, mac=True)
    result = security.verify(decode_message(protected.encode()))
    assert result.mac is False
    assert any("unsupported security control 0x10" in e for e in result.errors)


def test_verify_message_without_protection(security: MessageSecurity) -> None:
    result = security.verify(decode_message(_command().encode()))
    assert (result.signature, result.mac, result.errors) == (None, None, [])
    with pytest.raises(MacError):
        security.verify_mac(_command())
    with pytest.raises(SignatureError):
        security.verify_signature(_command())


def test_mac_uses_invocation_counter_in_iv(security: MessageSecurity) -> None:
    msg = _command()
    msg.invocation_counter = 1
    protected = security.protect(msg, sign=False, mac=True)
    raw = protected.encode()
    assert raw[9:13] == h("00000001")
    assert security.verify(decode_message(raw)).mac is True
    zero = security.protect(_command(), sign=False, mac=True)
    assert zero.mac != protected.mac


# -- sensitive data ---------------------------------------------------------------------------


SECRET = Structure([LongUnsigned(5), VisibleString(b"secret")])


def _protection_parameters(counter: int, origin: Eui64, recipient: Eui64) -> Array:
    """GBCS sensitive-read protection parameters (layout section 4.1)."""
    return Array(
        [
            Structure(
                [
                    Enum(2),
                    Structure(
                        [
                            OctetString(h("04") + counter.to_bytes(8, "big")),
                            OctetString(bytes(origin)),
                            OctetString(bytes(recipient)),
                            OctetString(b""),
                            Structure(
                                [
                                    Enum(2),
                                    Structure([OctetString(h("02")), OctetString(b"")]),
                                ]
                            ),
                        ]
                    ),
                ]
            )
        ]
    )


def _dlms_sensitive_response(blob: bytes, other: OtherInformation | None = None) -> GbcsMessage:
    apdu = AccessResponse(
        0x20000123,
        [Structure([_protection_parameters(COUNTER, D, S), OctetString(blob)])],
        [ResponseSpec(SpecKind.ACTION, 0)],
    )
    return builder.response(_command(), apdu, other=other)


def test_sensitive_key_matches_reference(pki: TestPki, security: MessageSecurity) -> None:
    msg = builder.response(_command(), h("020100"))
    assert security.sensitive_data_key(msg) == ref_key(ref_z(pki, D, S), D, 4, COUNTER, S)


def test_sensitive_key_with_supplementary_party(pki: TestPki, security: MessageSecurity) -> None:
    to_acb = builder.command(0x0096, COUNTER, ACB, D, h("0500"))
    r18 = builder.response(to_acb, h("020100"), other=OtherInformation(0x0096, S, 0x99))
    assert security.sensitive_data_key(r18) == ref_key(ref_z(pki, D, S), D, 4, COUNTER, S)
    r26 = builder.response(to_acb, h("020100"), other=OtherInformation(0x0096, S, 0x99, 0x100))
    assert security.sensitive_data_key(r26) == ref_key(ref_z(pki, D, S), D, 4, 0x100, S)
    plain = builder.response(to_acb, h("020100"))
    assert security.sensitive_data_key(plain) == ref_key(ref_z(pki, D, ACB), D, 4, COUNTER, ACB)


def test_seal_blob_matches_reference() -> None:
    key = bytes(range(16))
    assert seal_blob(key, crypto.iv_for(D), b"abc") == ref_seal(key, D, b"abc")
    assert open_blob(key, crypto.iv_for(D), ref_seal(key, D, b"abc")) == b"abc"


def test_dlms_sensitive_data_decrypts(pki: TestPki, security: MessageSecurity) -> None:
    key = ref_key(ref_z(pki, D, S), D, 4, COUNTER, S)
    blob = ref_seal(key, D, SECRET.encode())
    msg = decode_message(
        builder.protect(_dlms_sensitive_response(blob), security, critical=True).encode()
    )
    decoded = decode_message_payload(msg)
    assert decoded.encrypted_parts == 1 and not decoded.fully_decrypted
    decrypt_payload(decoded, security.sensitive_data_key(msg), msg.originator)
    assert decoded.decrypted_dlms == [SECRET]
    assert decoded.fully_decrypted
    assert decoded.encode() == msg.payload  # the wire form is untouched
    inspection = inspect_message(msg.raw or b"", security)
    assert inspection.failures == []
    assert inspection.payload_decoded
    assert inspection.to_json()["payload"]["decrypted_parts"] == 1


def test_dlms_sensitive_data_tampered(pki: TestPki, security: MessageSecurity) -> None:
    key = ref_key(ref_z(pki, D, S), D, 4, COUNTER, S)
    blob = bytearray(ref_seal(key, D, SECRET.encode()))
    blob[7] ^= 0x01
    msg = _dlms_sensitive_response(bytes(blob))
    decoded = decode_message_payload(msg)
    with pytest.raises(MacError):
        decrypt_payload(decoded, security.sensitive_data_key(msg), D)
    decoded = decode_message_payload(msg)
    assert try_decrypt(decoded, security, msg) == "decryption tag does not verify"
    assert try_decrypt(decoded, object(), msg) == "no key source for sensitive data"


def test_open_blob_needs_security_header() -> None:
    from emulator.errors import GbcsDecodeError

    with pytest.raises(GbcsDecodeError):
        open_blob(bytes(16), bytes(12), h("30 00000000") + bytes(12))
    with pytest.raises(GbcsDecodeError):
        open_blob(bytes(16), bytes(12), h("31 00000000") + bytes(11))


def test_gbz_encrypted_component_decrypts(pki: TestPki, security: MessageSecurity) -> None:
    key = ref_key(ref_z(pki, D, S), D, 4, COUNTER, S)
    plaintext = h("0000 00 25 102700000000  0703 86")  # read-attributes-response records
    sealed = ref_seal(key, D, plaintext)
    ct, tag = sealed[5:-12], sealed[-12:]
    gbz = GbzPayload(
        [
            GbzComponent(
                0x03, 0x0702, ZclFrame(0x18, 1, 0x01, None, EncryptedPayload(ct, tag)), None, 0
            )
        ]
    )
    msg = decode_message(
        builder.protect(builder.response(_command(), gbz), security, critical=True).encode()
    )
    decoded = decode_message_payload(msg)
    assert decoded.encrypted_parts == 1
    decrypt_payload(decoded, security.sensitive_data_key(msg), msg.originator)
    frame = decoded.tree.components[0].frame  # type: ignore[union-attr]
    assert frame.name == "read_attributes_response"
    assert frame.fields == {
        "records": [
            {"attribute_id": 0, "status": 0, "value": ZclValue(0x25, 10000)},
            {"attribute_id": 0x0307, "status": 0x86},
        ]
    }
    assert decoded.fully_decrypted
    assert inspect_message(msg.raw or b"", security).payload_decoded


def test_gbz_encrypted_component_with_wrong_key(security: MessageSecurity) -> None:
    sealed = ref_seal(bytes(16), D, h("0000 86"))
    gbz = GbzPayload(
        [
            GbzComponent(
                0x03,
                0x0702,
                ZclFrame(0x18, 1, 0x01, None, EncryptedPayload(sealed[5:-12], sealed[-12:])),
                None,
                0,
            )
        ]
    )
    msg = builder.response(_command(), gbz)
    decoded = decode_message_payload(msg)
    with pytest.raises(MacError):
        decrypt_payload(decoded, security.sensitive_data_key(msg), D)
    inspection = inspect_message(builder.protect(msg, security, critical=True).encode(), security)
    assert ("decrypt", "decryption tag does not verify") in inspection.failures
    assert not inspection.payload_decoded


def test_reference_signature_check_detects_tampering(
    pki: TestPki, security: MessageSecurity
) -> None:
    """Sanity check of the independent verifier used above."""
    msg = decode_message(builder.protect(_command(), security, critical=True).encode())
    assert msg.raw is not None
    bad = bytearray(msg.raw)
    bad[-20] ^= 0x01  # inside the signature (before the 12-byte MAC)
    with pytest.raises(InvalidSignature):
        ref_verify_signature(pki, S, decode_message(bytes(bad)))


def test_signatures_are_deterministic_rfc6979() -> None:
    """RFC 6979 A.2.5 (P-256, SHA-256, message "sample"): the same key and message
    always give this signature, so a seeded lab run emits byte-identical messages."""
    key = ec.derive_private_key(
        0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721, ec.SECP256R1()
    )
    expected = bytes.fromhex(
        "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
        "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
    )
    assert crypto.sign(key, b"sample") == expected
    assert crypto.sign(key, b"sample") == expected
    crypto.verify(key.public_key(), b"sample", expected)
