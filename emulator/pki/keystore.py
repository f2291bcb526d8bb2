"""Where keys and certificates come from: the `KeyStore` protocol.

Codec, devices and the DCC layer ask for a key by (EUI-64, usage) and never care
whether it came from our generated test PKI, the RTDS keystore folder or the ZAZ1
JSON. A store may hold only certificates for some parties (the RTDS set has no
device private keys); callers that can work from either end of an ECDH pair use
`has_private_key` to pick the side they hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.errors import KeyNotFoundError
from emulator.gbcs.eui import Eui64


class KeyUsage(StrEnum):
    """Key usages, named as in the RTDS keystore file suffixes."""

    DIGITAL_SIGNATURE = "ds"
    KEY_AGREEMENT = "ka"
    PREPAYMENT_KEY_AGREEMENT = "pp-ka"


@runtime_checkable
class KeyStore(Protocol):
    def certificate(self, eui: Eui64, usage: KeyUsage) -> x509.Certificate: ...

    def public_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePublicKey: ...

    def private_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePrivateKey: ...

    def has_private_key(self, eui: Eui64, usage: KeyUsage) -> bool: ...

    def has_public_key(self, eui: Eui64, usage: KeyUsage) -> bool: ...


class MemoryKeyStore:
    """A key store over dicts; the other stores fill one of these.

    Public keys come from the certificate when there is one, otherwise from the
    private key, so a party generated without a certificate still verifies.
    """

    def __init__(self) -> None:
        self._certs: dict[tuple[bytes, KeyUsage], x509.Certificate] = {}
        self._keys: dict[tuple[bytes, KeyUsage], ec.EllipticCurvePrivateKey] = {}
        self._pub: dict[tuple[bytes, KeyUsage], ec.EllipticCurvePublicKey] = {}
        self._bare: set[tuple[bytes, KeyUsage]] = set()

    # -- filling --------------------------------------------------------------------
    def add_certificate(self, eui: Eui64 | str, usage: KeyUsage, cert: x509.Certificate) -> None:
        key = (bytes(Eui64(eui)), usage)
        self._certs[key] = cert
        self._pub.pop(key, None)

    def add_public_key(
        self, eui: Eui64 | str, usage: KeyUsage, public_key: ec.EllipticCurvePublicKey
    ) -> None:
        """A bare public key (no certificate), as some reference keystore files are."""
        self._pub[(bytes(Eui64(eui)), usage)] = public_key
        self._bare.add((bytes(Eui64(eui)), usage))

    def add_private_key(
        self, eui: Eui64 | str, usage: KeyUsage, private_key: ec.EllipticCurvePrivateKey
    ) -> None:
        key = (bytes(Eui64(eui)), usage)
        self._keys[key] = private_key
        if key not in self._bare:
            self._pub.pop(key, None)

    # -- KeyStore -------------------------------------------------------------------
    def certificate(self, eui: Eui64, usage: KeyUsage) -> x509.Certificate:
        found = self._certs.get((bytes(eui), usage))
        if found is None:
            found = self._load_certificate(Eui64(eui), usage)
            if found is None:
                raise KeyNotFoundError(str(Eui64(eui)), usage.value, private=False)
            self._certs[(bytes(eui), usage)] = found
        return found

    def private_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePrivateKey:
        found = self._keys.get((bytes(eui), usage))
        if found is None:
            found = self._load_private_key(Eui64(eui), usage)
            if found is None:
                raise KeyNotFoundError(str(Eui64(eui)), usage.value, private=True)
            self._keys[(bytes(eui), usage)] = found
        return found

    def public_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePublicKey:
        key = (bytes(eui), usage)
        found = self._pub.get(key)
        if found is not None:
            return found
        if self.has_certificate(eui, usage):
            public = self.certificate(eui, usage).public_key()
            if not isinstance(public, ec.EllipticCurvePublicKey):
                raise KeyNotFoundError(str(Eui64(eui)), usage.value, private=False)
            found = public
        elif key in self._pub:  # a bare public key, loaded by has_certificate
            return self._pub[key]
        elif self.has_private_key(eui, usage):
            found = self.private_key(eui, usage).public_key()
        else:
            raise KeyNotFoundError(str(Eui64(eui)), usage.value, private=False)
        self._pub[key] = found
        return found

    def has_certificate(self, eui: Eui64, usage: KeyUsage) -> bool:
        try:
            self.certificate(eui, usage)
        except KeyNotFoundError:
            return False
        return True

    def has_private_key(self, eui: Eui64, usage: KeyUsage) -> bool:
        try:
            self.private_key(eui, usage)
        except KeyNotFoundError:
            return False
        return True

    def has_public_key(self, eui: Eui64, usage: KeyUsage) -> bool:
        return (
            (bytes(eui), usage) in self._pub
            or self.has_certificate(eui, usage)
            or self.has_private_key(eui, usage)
        )

    def entries(self) -> Iterator[tuple[Eui64, KeyUsage, bool]]:
        """(eui, usage, has private key) for everything loaded so far."""
        seen = set(self._certs) | set(self._keys) | self._bare
        for raw, usage in sorted(seen):
            yield Eui64(raw), usage, (raw, usage) in self._keys

    # -- hooks for lazy stores ------------------------------------------------------
    def _load_certificate(self, eui: Eui64, usage: KeyUsage) -> x509.Certificate | None:
        return None

    def _load_private_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePrivateKey | None:
        return None


class ChainKeyStore:
    """Asks each store in turn: our lab PKI first, say, then the RTDS parties."""

    def __init__(self, stores: Iterable[KeyStore]) -> None:
        self.stores = list(stores)

    def _first(self, eui: Eui64, usage: KeyUsage, private: bool) -> KeyStore:
        for store in self.stores:
            if private and store.has_private_key(eui, usage):
                return store
            if not private and store.has_public_key(eui, usage):
                return store
        raise KeyNotFoundError(str(Eui64(eui)), usage.value, private)

    def certificate(self, eui: Eui64, usage: KeyUsage) -> x509.Certificate:
        last: KeyNotFoundError | None = None
        for store in self.stores:
            try:
                return store.certificate(eui, usage)
            except KeyNotFoundError as exc:
                last = exc
        raise last or KeyNotFoundError(str(Eui64(eui)), usage.value, False)

    def public_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePublicKey:
        return self._first(eui, usage, False).public_key(eui, usage)

    def private_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePrivateKey:
        return self._first(eui, usage, True).private_key(eui, usage)

    def has_private_key(self, eui: Eui64, usage: KeyUsage) -> bool:
        return any(s.has_private_key(eui, usage) for s in self.stores)

    def has_public_key(self, eui: Eui64, usage: KeyUsage) -> bool:
        return any(s.has_public_key(eui, usage) for s in self.stores)


def load_pem_certificate(data: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data)


def public_key_from_certificate_der(der: bytes) -> ec.EllipticCurvePublicKey:
    """The EC public key of a certificate that `cryptography` refuses to load.

    Some public test certificates carry encodings strict parsers reject (NULL
    parameters after ecdsa-with-SHA256, for example). Their key is still good, so
    read subjectPublicKeyInfo with our own DER decoder.
    """
    from emulator.gbcs.asn1 import DerBitString, DerConstructed, decode_der

    cert = decode_der(der, "certificate")
    if not isinstance(cert, DerConstructed) or not isinstance(cert.items[0], DerConstructed):
        raise ValueError("not an X.509 certificate")
    tbs = cert.items[0].items
    offset = 1 if tbs and tbs[0].identifier() == b"\xa0" else 0
    spki = tbs[offset + 5]
    if not isinstance(spki, DerConstructed) or not isinstance(spki.items[1], DerBitString):
        raise ValueError("certificate has no subjectPublicKeyInfo where expected")
    point = spki.items[1].value
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def load_pem_public(data: bytes) -> tuple[x509.Certificate | None, ec.EllipticCurvePublicKey]:
    """A certificate (or, failing that, its public key) from PEM bytes."""
    try:
        cert = load_pem_certificate(data)
    except ValueError:
        der = pem_body(data)
        return None, public_key_from_certificate_der(der)
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise ValueError("certificate key is not on an elliptic curve")
    return cert, public


def pem_body(data: bytes) -> bytes:
    import base64

    lines = [ln for ln in data.decode("ascii").splitlines() if ln and not ln.startswith("-----")]
    return base64.b64decode("".join(lines))


def load_pem_private_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an elliptic-curve private key")
    return key


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
