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
#: RFC 6979 nonces: the same key and message give the same signature, so a seeded
#: lab run produces byte-identical messages and records (any ECDSA verifier accepts it).
_ECDSA_SIGN = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
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
    r, s = decode_dss_signature(private_key.sign(data, _ECDSA_SIGN))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


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
