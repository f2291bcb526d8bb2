"""UTRN top-up codes (GBCS section 14): PTUT layout, GMAC, check digit.

A UTRN is 20 decimal digits: the PPTD (PTUT + a fixed offset, 19 digits) and a
check digit. The PTUT packs, most significant bit first::

    7 zero bits | counter bits 41..32 (10) | value class (2) | value (13) | GMAC[12:16] (32)

The GMAC is AES-128-GCM over a 35-byte AAD with no plaintext, keyed from the
supplier's *prepayment* key-agreement key and the device's key-agreement key
(KDF mode 1, the full 8-byte counter). Only ten counter bits travel in the token,
so the device rebuilds candidate counters from the last one it accepted
(`counter_candidates`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from construct import BitsInteger, BitStruct, Const, ConstructError

from emulator.errors import UtrnError
from emulator.gbcs import crypto
from emulator.gbcs.eui import Eui64

PPTD_OFFSET = 0x669D529B714A0000
MAX_VALUE = (1 << 13) - 1
COUNTER_BITS_SHIFT = 32
COUNTER_BITS_MASK = 0x3FF

PTUT = BitStruct(
    "reserved" / Const(0, BitsInteger(7)),
    "counter_bits" / BitsInteger(10),
    "value_class" / BitsInteger(2),
    "value" / BitsInteger(13),
    "mac" / BitsInteger(32),
).compile()

# Verhoeff tables (dihedral group D5); the GBCS variant starts the position
# counter at 4 and maps the result through its own final table (not the inverse).
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P1 = (1, 5, 7, 6, 2, 8, 3, 0, 9, 4)
_FINAL = (1, 2, 6, 7, 5, 8, 3, 0, 9, 4)


def _permutations() -> tuple[tuple[int, ...], ...]:
    rows = [tuple(range(10))]
    for _ in range(7):
        rows.append(tuple(_P1[x] for x in rows[-1]))
    return tuple(rows)


_P = _permutations()


class ValueClass(IntEnum):
    PENNIES = 0
    POUNDS = 1


@dataclass(frozen=True, slots=True)
class Ptut:
    counter: int  # the full 64-bit UTRN counter (low 32 bits are zero in practice)
    value: int
    value_class: ValueClass
    mac: int  # last 32 bits of the GMAC tag

    @property
    def counter_bits(self) -> int:
        return (self.counter >> COUNTER_BITS_SHIFT) & COUNTER_BITS_MASK

    @property
    def high_word(self) -> int:
        """The PTUT's top 32 bits, which the GMAC covers."""
        return self.to_int() >> 32

    def to_int(self) -> int:
        raw = PTUT.build(
            {
                "counter_bits": self.counter_bits,
                "value_class": int(self.value_class),
                "value": self.value,
                "mac": self.mac,
            }
        )
        return int.from_bytes(raw, "big")

    @property
    def pence(self) -> int:
        return self.value * (100 if self.value_class == ValueClass.POUNDS else 1)


@dataclass(frozen=True, slots=True)
class ParsedUtrn:
    """What a device can read from a UTRN before it knows the full counter."""

    counter_bits: int
    value: int
    value_class: ValueClass
    mac: int
    ptut: int


def check_digit(digits: str) -> str:
    """GBCS check digit for a string of decimal digits (the 19-digit PPTD)."""
    if not digits or not digits.isdigit():
        raise UtrnError("check digit needs a non-empty string of digits")
    c, k = 0, 4
    for ch in digits:
        c = _D[c][_P[k][int(ch)]]
        k = (k + 1) % 8
    return str(_FINAL[c])


def _aad(supplier: bytes, device: bytes, counter: int, high_word: int) -> bytes:
    return (
        b"\x11\x00\x00\x00\x00\x00"
        + bytes(supplier)
        + bytes(device)
        + b"\x01"
        + counter.to_bytes(8, "big")
        + high_word.to_bytes(4, "big")
    )


def utrn_mac(z: bytes, supplier: Eui64, device: Eui64, counter: int, high_word: int) -> int:
    """Last 32 bits of the UTRN GMAC for a PTUT whose top 32 bits are `high_word`."""
    key = crypto.derive_key(z, supplier, crypto.KdfMode.COMMAND, counter, device)
    tag = crypto.gmac(key, crypto.iv_for(supplier), _aad(supplier, device, counter, high_word), 16)
    return int.from_bytes(tag[12:16], "big")


def build_ptut(
    z: bytes, supplier: Eui64, device: Eui64, counter: int, value: int, value_class: ValueClass
) -> Ptut:
    if not 0 <= value <= MAX_VALUE:
        raise UtrnError(f"value out of range 0..{MAX_VALUE}: {value}")
    if not 0 <= counter < 1 << 64:
        raise UtrnError(f"counter out of range: {counter}")
    unsigned = Ptut(counter, value, ValueClass(value_class), 0)
    mac = utrn_mac(z, supplier, device, counter, unsigned.high_word)
    return Ptut(counter, value, ValueClass(value_class), mac)


def utrn_from_ptut(ptut: Ptut) -> str:
    pptd = str(ptut.to_int() + PPTD_OFFSET)
    if len(pptd) != 19:
        raise UtrnError(f"PPTD must have 19 digits, got {len(pptd)}")
    return pptd + check_digit(pptd)


def generate_utrn(
    z: bytes,
    supplier: Eui64,
    device: Eui64,
    counter: int,
    value: int,
    value_class: ValueClass = ValueClass.PENNIES,
) -> str:
    """The 20-digit UTRN for a top-up; `z` is the supplier-prepayment/device ECDH secret."""
    return utrn_from_ptut(build_ptut(z, supplier, device, counter, value, value_class))


def parse_utrn(utrn: str) -> ParsedUtrn:
    """Check format and check digit, and unpack the PTUT fields."""
    text = utrn.replace(" ", "").replace("-", "")
    if len(text) != 20 or not text.isdigit():
        raise UtrnError("a UTRN is 20 decimal digits")
    if check_digit(text[:19]) != text[19]:
        raise UtrnError("UTRN check digit does not match")
    ptut = int(text[:19]) - PPTD_OFFSET
    if not 0 <= ptut < 1 << 57:
        raise UtrnError("UTRN is outside the PTUT range")
    try:
        fields = PTUT.parse(ptut.to_bytes(8, "big"))
    except ConstructError as exc:
        raise UtrnError(f"malformed PTUT: {exc}") from None
    if fields.value_class > 1:
        raise UtrnError(f"unknown value class {fields.value_class}")
    return ParsedUtrn(
        fields.counter_bits, fields.value, ValueClass(fields.value_class), fields.mac, ptut
    )


def counter_candidates(counter_bits: int, last_accepted: int) -> list[int]:
    """Full counters a device may try for ten transmitted bits, newest first.

    The supplier counter only grows. The device keeps the highest counter it
    accepted; the token's ten bits replace bits 41..32 of it, and if that is not
    above the last one the next 2**42 window is tried as well.
    """
    base = last_accepted & ~((1 << 42) - 1)
    first = base | (counter_bits << COUNTER_BITS_SHIFT)
    candidates = [first]
    if first <= last_accepted:
        candidates.insert(0, first + (1 << 42))
    return [c for c in candidates if c < 1 << 64]


def verify_utrn(
    utrn: str, z: bytes, supplier: Eui64, device: Eui64, counters: list[int]
) -> tuple[Ptut, ParsedUtrn]:
    """Return the PTUT whose GMAC matches one of `counters`, else raise UtrnError."""
    parsed = parse_utrn(utrn)
    for counter in counters:
        if (counter >> COUNTER_BITS_SHIFT) & COUNTER_BITS_MASK != parsed.counter_bits:
            continue
        candidate = Ptut(counter, parsed.value, parsed.value_class, parsed.mac)
        if utrn_mac(z, supplier, device, counter, candidate.high_word) == parsed.mac:
            return candidate, parsed
    raise UtrnError("UTRN authentication failed (GMAC mismatch)")
