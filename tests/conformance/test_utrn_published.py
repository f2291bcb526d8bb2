"""UTRNs from the codec against published examples (SmartDCC gbcs-parser tests).

The examples use the reference keystore: supplier 90-B3-D5-1F-30-01-00-00's
prepayment key-agreement key and the ESME 00-DB-12-34-56-78-90-A0.
"""

from __future__ import annotations

import pytest

from emulator.gbcs import utrn
from emulator.gbcs.eui import Eui64
from emulator.gbcs.security import MessageSecurity
from emulator.pki.keystore import KeyUsage

SUPPLIER = Eui64("90B3D51F30010000")
ESME = Eui64("00DB1234567890A0")


@pytest.fixture(scope="module")
def z(rtds_security: MessageSecurity) -> bytes:
    return rtds_security.shared_secret(
        SUPPLIER, ESME, KeyUsage.PREPAYMENT_KEY_AGREEMENT, KeyUsage.KEY_AGREEMENT
    )


@pytest.mark.parametrize(
    ("counter", "value", "value_class", "expected"),
    [
        (0x100000000, 100, utrn.ValueClass.POUNDS, "73943333457189043313"),
        (0x400000000, 1234, utrn.ValueClass.PENNIES, "73947252416745201637"),
    ],
)
def test_published_utrns(
    z: bytes, counter: int, value: int, value_class: utrn.ValueClass, expected: str
) -> None:
    assert utrn.generate_utrn(z, SUPPLIER, ESME, counter, value, value_class) == expected
    ptut, parsed = utrn.verify_utrn(expected, z, SUPPLIER, ESME, [counter])
    assert (parsed.value, parsed.value_class, ptut.counter) == (value, value_class, counter)


def test_published_pptd_for_maximum_value(z: bytes) -> None:
    ptut = utrn.build_ptut(z, SUPPLIER, ESME, 0x100000000, 8191, utrn.ValueClass.POUNDS)
    assert ptut.to_int() + utrn.PPTD_OFFSET == 7394368095646343255


@pytest.mark.parametrize(
    "digits",
    [
        "73943333457189043313",
        "74301825837596672005",
        "73946144332040217315",
        "73947252416745201637",
    ],
)
def test_published_check_digits(digits: str) -> None:
    assert utrn.check_digit(digits[:19]) == digits[19]


def test_generated_utrn_fails_for_another_device(z: bytes, rtds_security: MessageSecurity) -> None:
    token = utrn.generate_utrn(z, SUPPLIER, ESME, 0x200000000, 50)
    other = rtds_security.shared_secret(
        SUPPLIER,
        Eui64("00DB1234567890A1"),
        KeyUsage.PREPAYMENT_KEY_AGREEMENT,
        KeyUsage.KEY_AGREEMENT,
    )
    with pytest.raises(utrn.UtrnError):
        utrn.verify_utrn(token, other, SUPPLIER, Eui64("00DB1234567890A1"), [0x200000000])
