"""Flipping any single byte of a signed or MACed reference message breaks it.

Exhaustive over every byte of every protected message: the flipped message must
either fail to parse or fail signature or MAC verification. Never verify OK.
"""

from __future__ import annotations

from pathlib import Path

from emulator.errors import GbcsError
from emulator.gbcs.frame import decode_message
from emulator.gbcs.security import MessageSecurity
from hil.corpus import hex_files, read_hex_file


def _still_verifies(raw: bytes, security: MessageSecurity) -> bool:
    try:
        msg = decode_message(raw)
    except GbcsError:
        return False
    result = security.verify(msg)
    if result.signature is False or result.mac is False:
        return False
    if not msg.signature and msg.mac is None:
        return True  # flipping removed all protection: that is a failure to detect
    checked = result.signature is True or result.mac is True
    return checked and not result.errors


def test_single_byte_flips_never_verify(
    rtds_messages: Path, rtds_security: MessageSecurity
) -> None:
    protected = 0
    flips = 0
    survivors: list[str] = []
    for path in hex_files(rtds_messages):
        raw = read_hex_file(path)
        msg = decode_message(raw)
        base = rtds_security.verify(msg)
        if base.signature is not True and base.mac is not True:
            continue  # nothing verifiable (pre-commands, the four HAN-only PCS messages)
        protected += 1
        for i in range(len(raw)):
            flipped = bytearray(raw)
            flipped[i] ^= 0xFF
            flips += 1
            if _still_verifies(bytes(flipped), rtds_security):
                survivors.append(f"{path.name}@{i}")
    assert protected > 800
    assert flips > 100_000
    assert survivors == []
