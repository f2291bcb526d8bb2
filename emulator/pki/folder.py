"""A key store over a folder in the RTDS keystore layout.

Files are named ``<eui>-<usage>.pem`` for certificates and ``<eui>-<usage>.key``
for PKCS#8 private keys, with usage ``ds``, ``ka`` or ``pp-ka`` and the EUI-64 in
lower-case hex. `smets-hil pki export` writes the same layout, so external tools
can read what our lab uses and we can read the reference set.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.errors import SecurityError
from emulator.gbcs.eui import Eui64
from emulator.pki.keystore import (
    KeyUsage,
    MemoryKeyStore,
    certificate_pem,
    load_pem_private_key,
    load_pem_public,
    private_key_pem,
)


def key_file_name(eui: Eui64, usage: KeyUsage, private: bool) -> str:
    return f"{Eui64(eui).compact}-{usage.value}.{'key' if private else 'pem'}"


class FolderKeyStore(MemoryKeyStore):
    """Loads lazily: a corpus run touches a few dozen of the ~400 files."""

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"key store folder not found: {self.folder}")

    def _load_certificate(self, eui: Eui64, usage: KeyUsage) -> x509.Certificate | None:
        path = self.folder / key_file_name(eui, usage, private=False)
        if not path.is_file():
            return None
        data = path.read_bytes()
        try:
            if b"BEGIN PUBLIC KEY" in data:
                public = serialization.load_pem_public_key(data)
                if isinstance(public, ec.EllipticCurvePublicKey):
                    self.add_public_key(eui, usage, public)
                return None
            cert, public_key = load_pem_public(data)
        except ValueError as exc:  # a corrupt file: name it, not the base64 decoder's complaint
            raise SecurityError(f"{path}: not a PEM certificate or public key ({exc})") from None
        if cert is None:  # a certificate strict parsers refuse: keep its key
            self.add_public_key(eui, usage, public_key)
        return cert

    def has_public_key(self, eui: Eui64, usage: KeyUsage) -> bool:
        self.has_certificate(eui, usage)  # loads a bare public key file as a side effect
        return super().has_public_key(eui, usage)

    def _load_private_key(self, eui: Eui64, usage: KeyUsage) -> ec.EllipticCurvePrivateKey | None:
        path = self.folder / key_file_name(eui, usage, private=True)
        if not path.is_file():
            return None
        try:
            return load_pem_private_key(path.read_bytes())
        except ValueError as exc:
            raise SecurityError(f"{path}: not a PEM private key ({exc})") from None

    def load_all(self) -> None:
        """Read every file now (for listing and export)."""
        for path in sorted(self.folder.iterdir()):
            parsed = parse_key_file_name(path.name)
            if parsed is None:
                continue
            eui, usage, private = parsed
            if private:
                self.private_key(eui, usage)
            else:
                self.certificate(eui, usage)


def parse_key_file_name(name: str) -> tuple[Eui64, KeyUsage, bool] | None:
    stem, dot, ext = name.rpartition(".")
    if not dot or ext not in ("pem", "key") or len(stem) < 19 or stem[16] != "-":
        return None
    try:
        eui = Eui64(stem[:16])
        usage = KeyUsage(stem[17:])
    except ValueError:
        return None
    return eui, usage, ext == "key"


def export_folder(
    folder: str | Path,
    entries: Iterable[
        tuple[Eui64, KeyUsage, x509.Certificate | None, ec.EllipticCurvePrivateKey | None]
    ],
) -> list[Path]:
    """Write certificates and keys in the RTDS naming; returns the files written."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for eui, usage, cert, key in entries:
        if cert is not None:
            path = out / key_file_name(eui, usage, private=False)
            path.write_bytes(certificate_pem(cert))
            written.append(path)
        if key is not None:
            path = out / key_file_name(eui, usage, private=True)
            path.write_bytes(private_key_pem(key))
            path.chmod(0o600)
            written.append(path)
    return written
