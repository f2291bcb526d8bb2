"""UTRN top-up codes (GBCS section 14): check digit, PTUT layout, GMAC, counters.

PTUT (64 bits, MSB first): 7 zero bits | counter bits 41..32 (10) | value class (2)
| value (13) | last 4 bytes of the 16-byte GMAC tag. PPTD = PTUT + 0x669D529B714A0000
(19 digits); UTRN = PPTD + check digit.
"""

from __future__ import annotations

import hashlib
import random

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emulator.errors import UtrnError
from emulator.gbcs import utrn
from emulator.gbcs.eui import Eui64
from emulator.gbcs.security import MessageSecurity
from emulator.gbcs.utrn import ValueClass
from emulator.pki.keystore import KeyUsage
from emulator.pki.testpki import TestPki

S = Eui64("90-B3-D5-1F-30-01-00-00")
D = Eui64("00-DB-12-34-56-78-90-A0")
OFFSET = 7394156990786306048  # 0x669D529B714A0000
COUNTER = 0x0000000300000000  # bits 41..32 = 3, low 32 bits zero


# -- an independent check digit from the algorithm's definition ------------------------------


def _d5(j: int, k: int) -> int:
    """Multiplication in the dihedral group D5 (rotations 0-4, reflections 5-9)."""
    if j < 5 and k < 5:
        return (j + k) % 5
    if j < 5:
        return (j + k) % 5 + 5
    if k < 5:
        return (j - k) % 5 + 5
    return (j - k) % 5


_P1 = [int(c) for c in "1576283094"]
_FINAL = "1267583094"


def _p(k: int, x: int) -> int:
    for _ in range(k):
        x = _P1[x]
    return x


def ref_check_digit(digits: str) -> str:
    c, k = 0, 4
    for ch in digits:
        c = _d5(c, _p(k, int(ch)))
        k = (k + 1) % 8
    return _FINAL[c]


def test_d5_table_sanity() -> None:
    # identity, inverses, and non-commutativity of the reflections
    assert all(_d5(0, k) == k for k in range(10))
    assert all(any(_d5(j, k) == 0 for k in range(10)) for j in range(10))
    assert _d5(1, 5) != _d5(5, 1)


@pytest.mark.parametrize(
    ("digits", "check"),
    [
        # by hand: c=0,k=4: p4(0)=9 (0->1->5->8->9), d(0,9)=9, final[9]=4
        ("0", "4"),
        # p4(1)=4 (1->5->8->9->4), d(0,4)=4, final[4]=5
        ("1", "5"),
        # then k=5: p5(2)=8 (2->7->0->1->5->8), d(4,8)=7, final[7]=0
        ("12", "0"),
        # published SmartDCC parser examples
        ("7394333345718904331", "3"),
        ("7430182583759667200", "5"),
        ("7394614433204021731", "5"),
        ("7394725241674520163", "7"),
    ],
)
def test_check_digit_known_values(digits: str, check: str) -> None:
    assert utrn.check_digit(digits) == check
    assert ref_check_digit(digits) == check


def test_check_digit_matches_reference_on_random_strings() -> None:
    rnd = random.Random(14)
    for _ in range(500):
        digits = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 25)))
        assert utrn.check_digit(digits) == ref_check_digit(digits), digits


def test_check_digit_catches_single_errors_and_transpositions() -> None:
    pptd = "7394725241674520163"
    check = utrn.check_digit(pptd)
    for i in range(len(pptd)):
        for d in "0123456789":
            if d != pptd[i]:
                assert utrn.check_digit(pptd[:i] + d + pptd[i + 1 :]) != check
        if i + 1 < len(pptd) and pptd[i] != pptd[i + 1]:
            swapped = pptd[:i] + pptd[i + 1] + pptd[i] + pptd[i + 2 :]
            assert utrn.check_digit(swapped) != check


@pytest.mark.parametrize("bad", ["", "12a", " 1", "-1"])
def test_check_digit_needs_digits(bad: str) -> None:
    with pytest.raises(UtrnError):
        utrn.check_digit(bad)


# -- generate / parse / verify ----------------------------------------------------------------


@pytest.fixture(scope="module")
def z(pki: TestPki, security: MessageSecurity) -> bytes:
    value = security.shared_secret(S, D, KeyUsage.PREPAYMENT_KEY_AGREEMENT, KeyUsage.KEY_AGREEMENT)
    independent = pki.keystore.private_key(S, KeyUsage.PREPAYMENT_KEY_AGREEMENT).exchange(
        ec.ECDH(), pki.keystore.public_key(D, KeyUsage.KEY_AGREEMENT)
    )
    assert value == independent
    return value


def ref_mac(z: bytes, counter: int, high_word: int) -> int:
    other = (
        bytes.fromhex("60857406080300") + bytes(S) + b"\x09\x01" + counter.to_bytes(8, "big")
    ) + bytes(D)
    key = hashlib.sha256(b"\x00\x00\x00\x01" + z + other).digest()[:16]
    aad = (
        bytes.fromhex("110000000000")
        + bytes(S)
        + bytes(D)
        + b"\x01"
        + counter.to_bytes(8, "big")
        + high_word.to_bytes(4, "big")
    )
    assert len(aad) == 35
    tag = AESGCM(key).encrypt(bytes(S) + bytes(4), b"", aad)
    return int.from_bytes(tag[12:16], "big")


@pytest.mark.parametrize(
    ("counter", "value", "value_class"),
    [
        (COUNTER, 1234, ValueClass.PENNIES),
        (0x0000000100000000, 100, ValueClass.POUNDS),
        (0x000003FF00000000, 8191, ValueClass.POUNDS),
        (0, 0, ValueClass.PENNIES),
        (0x0000040000000000 | (7 << 32), 1, ValueClass.PENNIES),  # next 2**42 window
    ],
)
def test_generate_matches_layout(
    z: bytes, counter: int, value: int, value_class: ValueClass
) -> None:
    token = utrn.generate_utrn(z, S, D, counter, value, value_class)
    assert len(token) == 20 and token.isdigit()
    assert token[19] == ref_check_digit(token[:19])
    ptut = int(token[:19]) - OFFSET
    assert ptut >> 57 == 0
    assert (ptut >> 47) & 0x3FF == (counter >> 32) & 0x3FF
    assert (ptut >> 45) & 0x3 == value_class
    assert (ptut >> 32) & 0x1FFF == value
    assert ptut & 0xFFFFFFFF == ref_mac(z, counter, ptut >> 32)

    parsed = utrn.parse_utrn(token)
    assert (parsed.counter_bits, parsed.value, parsed.value_class) == (
        (counter >> 32) & 0x3FF,
        value,
        value_class,
    )
    assert parsed.ptut == ptut and parsed.mac == ptut & 0xFFFFFFFF
    found, again = utrn.verify_utrn(token, z, S, D, [counter])
    assert again == parsed
    assert found.counter == counter and found.to_int() == ptut
    assert found.pence == value * (100 if value_class == ValueClass.POUNDS else 1)


def test_utrn_with_separators_parses(z: bytes) -> None:
    token = utrn.generate_utrn(z, S, D, COUNTER, 500)
    spaced = " ".join(token[i : i + 4] for i in range(0, 20, 4))
    assert utrn.parse_utrn(spaced) == utrn.parse_utrn(token)
    assert utrn.parse_utrn("-".join(token[i : i + 5] for i in range(0, 20, 5))).value == 500


def test_ptut_views(z: bytes) -> None:
    ptut = utrn.build_ptut(z, S, D, COUNTER, 77, ValueClass.POUNDS)
    assert ptut.counter_bits == 3
    assert ptut.high_word == ptut.to_int() >> 32
    assert ptut.pence == 7700
    assert utrn.utrn_from_ptut(ptut) == utrn.generate_utrn(z, S, D, COUNTER, 77, ValueClass.POUNDS)


@pytest.mark.parametrize("value", [-1, 8192, 10_000])
def test_value_out_of_range(z: bytes, value: int) -> None:
    with pytest.raises(UtrnError, match="value out of range"):
        utrn.generate_utrn(z, S, D, COUNTER, value)


@pytest.mark.parametrize("counter", [-1, 1 << 64])
def test_counter_out_of_range(z: bytes, counter: int) -> None:
    with pytest.raises(UtrnError, match="counter out of range"):
        utrn.generate_utrn(z, S, D, counter, 1)


def test_unknown_value_class_is_refused(z: bytes) -> None:
    with pytest.raises(ValueError):
        utrn.generate_utrn(z, S, D, COUNTER, 1, 2)  # type: ignore[arg-type]


def _with_check(pptd: int) -> str:
    text = str(pptd)
    return text + ref_check_digit(text)


def test_bad_check_digit(z: bytes) -> None:
    token = utrn.generate_utrn(z, S, D, COUNTER, 1234)
    for d in "0123456789":
        if d != token[19]:
            with pytest.raises(UtrnError, match="check digit"):
                utrn.parse_utrn(token[:19] + d)


@pytest.mark.parametrize(
    "bad", ["", "1234", "7" * 19, "7" * 21, "7339461443332040217a", "73394614433320402173 9"]
)
def test_malformed_utrn(bad: str) -> None:
    with pytest.raises(UtrnError, match="20 decimal digits"):
        utrn.parse_utrn(bad)


def test_pptd_below_offset_or_above_ptut_range() -> None:
    with pytest.raises(UtrnError, match="outside the PTUT range"):
        utrn.parse_utrn(_with_check(OFFSET - 1))
    with pytest.raises(UtrnError, match="outside the PTUT range"):
        utrn.parse_utrn(_with_check(OFFSET + (1 << 57)))
    highest = (0x3FF << 47) | (1 << 45) | (0x1FFF << 32) | 0xFFFFFFFF
    parsed = utrn.parse_utrn(_with_check(OFFSET + highest))
    assert (parsed.counter_bits, parsed.value_class, parsed.value) == (0x3FF, 1, 8191)


@pytest.mark.parametrize("value_class", [2, 3])
def test_unknown_value_class_in_token(value_class: int) -> None:
    with pytest.raises(UtrnError, match="value class"):
        utrn.parse_utrn(_with_check(OFFSET + (value_class << 45)))


def test_wrong_counter_candidates(z: bytes) -> None:
    token = utrn.generate_utrn(z, S, D, COUNTER, 1234)
    for counters in (
        [],
        [COUNTER + (1 << 32)],  # other transmitted bits: skipped
        [COUNTER | 1],  # same bits, other low word: GMAC differs
        [COUNTER + (1 << 42)],  # same bits, next window
    ):
        with pytest.raises(UtrnError, match="GMAC"):
            utrn.verify_utrn(token, z, S, D, counters)
    # the right counter anywhere in the list is found
    found, _ = utrn.verify_utrn(token, z, S, D, [COUNTER + (1 << 42), COUNTER | 1, COUNTER])
    assert found.counter == COUNTER


def test_wrong_keys_or_parties(z: bytes, security: MessageSecurity) -> None:
    token = utrn.generate_utrn(z, S, D, COUNTER, 1234)
    with pytest.raises(UtrnError):
        utrn.verify_utrn(token, bytes(32), S, D, [COUNTER])
    with pytest.raises(UtrnError):
        utrn.verify_utrn(token, z, S, Eui64("00-DB-12-34-56-78-90-A1"), [COUNTER])
    with pytest.raises(UtrnError):
        utrn.verify_utrn(token, z, Eui64("90-B3-D5-1F-30-01-00-01"), D, [COUNTER])
    # the ordinary KA key of the supplier is not the prepayment one
    wrong = security.shared_secret(S, D)
    with pytest.raises(UtrnError):
        utrn.verify_utrn(token, wrong, S, D, [COUNTER])


def test_tampered_value_fails_gmac(z: bytes) -> None:
    token = utrn.generate_utrn(z, S, D, COUNTER, 1234)
    ptut = int(token[:19]) - OFFSET
    bigger = ptut + (1 << 32)  # value 1235, same MAC
    forged = _with_check(bigger + OFFSET)
    assert utrn.parse_utrn(forged).value == 1235
    with pytest.raises(UtrnError, match="GMAC"):
        utrn.verify_utrn(forged, z, S, D, [COUNTER])


@pytest.mark.parametrize(
    ("bits", "last", "expected"),
    [
        (3, 0, [3 << 32]),
        (3, 2 << 32, [3 << 32]),
        (3, 3 << 32, [(1 << 42) + (3 << 32), 3 << 32]),  # not above the last: next window first
        (2, 3 << 32, [(1 << 42) + (2 << 32), 2 << 32]),
        (5, (1 << 42) | (3 << 32), [(1 << 42) | (5 << 32)]),
        (0x3FF, 0, [0x3FF << 32]),
        (1, 0x3FF << 32, [(1 << 42) + (1 << 32), 1 << 32]),  # wrap into the next window
        # no window above 2**64: only the candidate that fits
        (0x3FF, (1 << 64) - (1 << 32), [(1 << 64) - (1 << 32)]),
    ],
)
def test_counter_candidates(bits: int, last: int, expected: list[int]) -> None:
    candidates = utrn.counter_candidates(bits, last)
    assert candidates == expected
    assert all(
        c < 1 << 64 and (c >> 32) & 0x3FF == bits and c & 0xFFFFFFFF == 0 for c in candidates
    )


def test_device_rebuilds_counter_across_a_window(z: bytes) -> None:
    """Supplier counters grow; the device only sees ten bits of them."""
    last_accepted = 0x3FF << 32
    issued = (1 << 42) | (1 << 32)  # bits wrap to 1 in the next window
    token = utrn.generate_utrn(z, S, D, issued, 10, ValueClass.POUNDS)
    bits = utrn.parse_utrn(token).counter_bits
    found, _ = utrn.verify_utrn(token, z, S, D, utrn.counter_candidates(bits, last_accepted))
    assert found.counter == issued
    assert found.pence == 1000
