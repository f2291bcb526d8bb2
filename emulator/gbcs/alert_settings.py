"""ESME alert settings (GBCS use cases ECS25a-b3, ECS25r1/r2): the place of an alert
code in the 256-bit alert configuration strings.

An alert's bit, counted from the string's last bit (bit 0 is the last bit of the
last byte), is the low byte of its code: 0x810D is bit 13, 0x81C6 bit 198. Alerts
0x80xx are the network operator's (objects 0-33:97.98.x), 0x81xx the supplier's
(0-30:97.98.x), so a low byte names one alert per object.

Derived from the reference test data set (RTDS 4.5.0), not read from GBCS: the ECS25a2,
ECS25a3 and ECS25b3 commands are their DUIS templates' settings bit for bit under this
rule, the other two agree on every code both hold, and every bit set in the ECS25r1 /
ECS25r2 responses is a code DUIS lists for that object (docs/duis.md, "6.22 ESME").

A Set (ECS25a-b3) writes 512 bits: 256 bits of mask (the alerts it sets) then 256
bits of their values (1: enabled); the object read back (ECS25r1/r2) is 256 bits, one
per alert, 1 where enabled.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Bits in one half of the configuration string.
BITS = 256
#: Bytes in one half of the configuration string.
HALF = BITS // 8

#: Object written by a Set (ECS25a-b3, 512 bits) -> object read back (ECS25r1/r2,
#: 256 bits), as OBIS codes in their six-byte form.
SETTINGS_OBJECTS: dict[bytes, bytes] = {
    bytes([0, 30, 97, 98, written, 255]): bytes([0, 30, 97, 98, written + 4, 255])
    for written in (11, 12, 13, 14)
} | {
    bytes([0, 33, 97, 98, written, 255]): bytes([0, 33, 97, 98, written + 4, 255])
    for written in (11, 14)
}
#: The read-back objects of alerts sent to the WAN and of events logged, by role byte
#: (the OBIS B field): 30 the supplier's, 33 the network operator's.
WAN_ALERTS = {30: bytes([0, 30, 97, 98, 15, 255]), 33: bytes([0, 33, 97, 98, 15, 255])}
LOGGING = {30: bytes([0, 30, 97, 98, 18, 255]), 33: bytes([0, 33, 97, 98, 18, 255])}


class AlertSettingsError(ValueError):
    """An alert code or configuration string outside the ECS25 layout."""


def role_of(code: int) -> int | None:
    """The OBIS B field of the objects configuring `code`, None for an alert no ECS25
    object configures (critical alerts 0x8Fxx and others are always sent)."""
    return {0x80: 33, 0x81: 30}.get(code >> 8)


def position(code: int) -> int:
    """The index of `code`'s bit in a 256-bit half, counted from its first bit (the top
    bit of its first byte), the way the bit string is sent."""
    if role_of(code) is None:
        raise AlertSettingsError(f"alert 0x{code:04X} has no ECS25 setting")
    return BITS - 1 - (code & 0xFF)


def _half(codes: Mapping[int, bool] | set[int]) -> bytes:
    value = 0
    for code in codes:
        value |= 1 << (code & 0xFF)
    return value.to_bytes(HALF, "big")


def encode(settings: Mapping[int, bool]) -> bytes:
    """The 512-bit string (64 bytes) that sets `settings` (code -> enabled)."""
    for code in settings:
        position(code)
    return _half(settings) + _half({c for c, on in settings.items() if on})


def decode(string: bytes) -> dict[int, bool]:
    """`encode`'s inverse, codes as 0x81xx (the role is the object's, not the string's)."""
    if len(string) != 2 * HALF:
        raise AlertSettingsError(f"alert settings are {2 * HALF} bytes, not {len(string)}")
    mask = int.from_bytes(string[:HALF], "big")
    values = int.from_bytes(string[HALF:], "big")
    return {0x8100 | i: bool(values >> i & 1) for i in range(BITS) if mask >> i & 1}


def apply(current: bytes, string: bytes) -> bytes:
    """The 256-bit read-back value after a Set of the 512-bit `string`: the masked bits
    take the string's values, the others stay."""
    if len(current) != HALF or len(string) != 2 * HALF:
        raise AlertSettingsError("alert settings: 32 bytes current, 64 bytes written")
    mask = int.from_bytes(string[:HALF], "big")
    values = int.from_bytes(string[HALF:], "big")
    now = int.from_bytes(current, "big")
    return ((now & ~mask) | (values & mask)).to_bytes(HALF, "big")


def enabled(current: bytes, code: int) -> bool:
    """Whether the 256-bit read-back value `current` has `code` enabled."""
    return bool(int.from_bytes(current, "big") >> (code & 0xFF) & 1)


#: The value read back before any Set: every alert enabled (the emulator's behaviour
#: before ECS25 was modelled: it sends and logs them all).
ALL_ENABLED = b"\xff" * HALF
