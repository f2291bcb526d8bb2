"""GBCS cryptographic primitives as pure functions on `cryptography`.

- ECDSA P-256 / SHA-256 with the signature in GBCS form: r || s, 32 bytes each.
- The GBCS KDF: static ECDH P-256 shared secret Z, then one round of the NIST
  SP 800-56A concatenation KDF with SHA-256, keeping the first 16 bytes::

      key = SHA-256(00000001 || Z || OtherInfo)[0:16]
      OtherInfo = 60857406080300 || originator(8) || 09 || mode(1) || counter(8) || recipient(8)

  The 7-byte prefix is the algorithm id; ``09 || mode || counter`` is a transaction
  id whose first byte says what the key is for (`KdfMode`).
- AES-128-GCM with 12-byte IVs (party id || 00000000) and 12-byte tags, used for
  MACs (empty plaintext) and for sensitive-data encryption.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import IntEnum

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emulator.errors import MacError, SignatureError

KDF_ALGORITHM_ID = bytes.fromhex("60857406080300")
TAG_LENGTH = 12
_ECDSA = ec.ECDSA(hashes.SHA256())
_ECDH = ec.ECDH()
_ZERO_COUNTER = b"\x00\x00\x00\x01"


class KdfMode(IntEnum):
    """What a derived key protects; also the CRA flag for MAC keys."""

    COMMAND = 1
    RESPONSE = 2
    ALERT = 3
    ENCRYPTION = 4


# -- signatures -----------------------------------------------------------------------


def sign(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256/SHA-256 signature as 64 bytes r || s."""
    r, s = decode_dss_signature(private_key.sign(data, _ECDSA))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# P-256 domain parameters, for the deterministic signer below.
_P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P256_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)


def sign_deterministic(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256/SHA-256 as r || s with the nonce of RFC 6979 (section 3.2).

    Files that are committed and compared byte for byte (the signed firmware test
    images) need the same signature on every run and every OpenSSL, so the nonce
    comes from HMAC-SHA-256 over the key and the message instead of a random source.
    """
    x = private_key.private_numbers().private_value
    h = hashlib.sha256(data).digest()
    e = int.from_bytes(h, "big")
    seed = x.to_bytes(32, "big") + (e % _P256_N).to_bytes(32, "big")
    v, k_mac = b"\x01" * 32, b"\x00" * 32
    for marker in (b"\x00", b"\x01"):
        k_mac = hmac.new(k_mac, v + marker + seed, hashlib.sha256).digest()
        v = hmac.new(k_mac, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k_mac, v, hashlib.sha256).digest()
        k = int.from_bytes(v, "big")
        if 1 <= k < _P256_N:
            r = _p256_multiply(k)[0] % _P256_N
            s = pow(k, -1, _P256_N) * (e + r * x) % _P256_N
            if r and s:
                return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        k_mac = hmac.new(k_mac, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k_mac, v, hashlib.sha256).digest()


def _p256_multiply(k: int) -> tuple[int, int]:
    """k * G on P-256 by double-and-add in affine coordinates (k is never 0 here)."""
    result: tuple[int, int] | None = None
    addend = _P256_G
    while k:
        if k & 1:
            result = addend if result is None else _p256_add(result, addend)
        addend = _p256_add(addend, addend)
        k >>= 1
    assert result is not None
    return result


def _p256_add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    p = _P256_P
    if a == b:
        slope = (3 * a[0] * a[0] - 3) * pow(2 * a[1], -1, p) % p
    else:
        slope = (b[1] - a[1]) * pow(b[0] - a[0], -1, p) % p
    x = (slope * slope - a[0] - b[0]) % p
    return x, (slope * (a[0] - x) - a[1]) % p


def verify(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> None:
    """Raise SignatureError unless `signature` (r || s) signs `data`."""
    if len(signature) != 64:
        raise SignatureError(f"signature must be 64 bytes, got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if r == 0 or s == 0:
        raise SignatureError("signature has a zero component")
    try:
        public_key.verify(encode_dss_signature(r, s), data, _ECDSA)
    except InvalidSignature:
        raise SignatureError("ECDSA signature does not verify") from None


def is_valid_signature(
    public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes
) -> bool:
    try:
        verify(public_key, data, signature)
    except SignatureError:
        return False
    return True


# -- key agreement and derivation ----------------------------------------------------


def shared_secret(
    private_key: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey
) -> bytes:
    """ECDH P-256: the x-coordinate Z (32 bytes). Symmetric: either side gets the same."""
    return private_key.exchange(_ECDH, peer)


def kdf_other_info(originator: bytes, mode: int, counter: int, recipient: bytes) -> bytes:
    return (
        KDF_ALGORITHM_ID
        + originator
        + b"\x09"
        + bytes((mode,))
        + counter.to_bytes(8, "big")
        + recipient
    )


def derive_key(z: bytes, originator: bytes, mode: int, counter: int, recipient: bytes) -> bytes:
    """The 16-byte AES key for one message (the counter makes it unique)."""
    return hashlib.sha256(
        _ZERO_COUNTER + z + kdf_other_info(originator, mode, counter, recipient)
    ).digest()[:16]


def iv_for(party: bytes, invocation_counter: int = 0) -> bytes:
    """GCM IV: a system title (the originating party's EUI-64) then the invocation
    counter, which GBCS always sends as zero because the KDF already makes each
    key unique per message."""
    return bytes(party) + invocation_counter.to_bytes(4, "big")


# -- AES-GCM --------------------------------------------------------------------------


def gmac(key: bytes, iv: bytes, aad: bytes, length: int = TAG_LENGTH) -> bytes:
    """GCM tag over `aad` with empty plaintext, truncated to `length` bytes."""
    return AESGCM(key).encrypt(iv, b"", aad)[:length]


def check_gmac(key: bytes, iv: bytes, aad: bytes, tag: bytes) -> None:
    if not hmac.compare_digest(gmac(key, iv, aad, len(tag)), tag):
        raise MacError("MAC does not verify")


def encrypt(key: bytes, iv: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """Ciphertext followed by a 12-byte tag."""
    full = AESGCM(key).encrypt(iv, plaintext, aad)
    return full[: len(plaintext)] + full[len(plaintext) : len(plaintext) + TAG_LENGTH]


def decrypt(key: bytes, iv: bytes, aad: bytes, ciphertext_and_tag: bytes) -> bytes:
    """Inverse of `encrypt`; raises MacError when the tag does not match."""
    if len(ciphertext_and_tag) < TAG_LENGTH:
        raise MacError("ciphertext shorter than its tag")
    ct, tag = ciphertext_and_tag[:-TAG_LENGTH], ciphertext_and_tag[-TAG_LENGTH:]
    decryptor = Cipher(
        algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=TAG_LENGTH)
    ).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(ct) + decryptor.finalize()
    except InvalidTag:
        raise MacError("decryption tag does not verify") from None
