"""Open a key store from a path given on the command line or in a lab file."""

from __future__ import annotations

from pathlib import Path

from emulator.pki.folder import FolderKeyStore
from emulator.pki.keystore import KeyStore
from emulator.pki.zaz1 import Zaz1KeyStore


def open_keystore(path: str | Path) -> KeyStore:
    """A folder in RTDS layout (ours or the reference set), or a ZAZ1 JSON file."""
    p = Path(path)
    if p.is_dir():
        return FolderKeyStore(p)
    if p.is_file() and p.suffix.lower() == ".json":
        return Zaz1KeyStore(p)
    raise FileNotFoundError(f"no key store at {p} (expected a folder or a ZAZ1 .json file)")
