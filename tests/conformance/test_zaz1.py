"""The public ZAZ1 credentials load as a key store and work for GBCS crypto."""

from __future__ import annotations

from pathlib import Path

from emulator.gbcs import builder
from emulator.gbcs.eui import Eui64
from emulator.gbcs.security import MessageSecurity
from emulator.pki.keystore import KeyUsage
from emulator.pki.zaz1 import Zaz1KeyStore

SUPPLIER = Eui64("90B3D51F30010000")
ACB = Eui64("90B3D51F30000002")
OTHER = Eui64("00DB123456780004")


def _zaz1(rtds_root: Path) -> Path:
    return rtds_root.parent / "reference" / "dccboxed_zaz1_keystore.json"


def test_zaz1_keys_sign_and_mac(rtds_root: Path) -> None:
    store = Zaz1KeyStore(_zaz1(rtds_root))
    assert store.has_private_key(SUPPLIER, KeyUsage.PREPAYMENT_KEY_AGREEMENT)
    security = MessageSecurity(store, ACB)
    # A command from the supplier to a party whose KA key ZAZ1 holds.
    cmd = builder.command(0x0023, 42, SUPPLIER, OTHER, b"\x05\x00")
    protected = builder.protect(cmd, security, critical=True)
    result = security.verify(protected)
    assert result.signature is True and result.mac is True


def test_zaz1_generations_differ(rtds_root: Path) -> None:
    z1 = Zaz1KeyStore(_zaz1(rtds_root), "Z1")
    z1b = Zaz1KeyStore(_zaz1(rtds_root), "Z1b")
    a = z1.public_key(SUPPLIER, KeyUsage.DIGITAL_SIGNATURE).public_numbers()
    b = z1b.public_key(SUPPLIER, KeyUsage.DIGITAL_SIGNATURE).public_numbers()
    assert a != b
