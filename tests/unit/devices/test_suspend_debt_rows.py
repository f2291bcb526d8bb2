"""ECS03's credit-charge rows carry the suspend-debt flags to the metering engine."""

from __future__ import annotations

import itertools

import pytest

from emulator.devices.prepay_bridge import suspend_debt_flags
from emulator.gbcs.dlms.axdr import Array, BitString, OctetString, Structure
from hil.dcc.templates.constants import credit_charge_rows


def _as_dlms(rows: list[list[object]]) -> Array:
    return Array(
        [
            Structure([OctetString(bytes(c)), OctetString(bytes(h)), BitString(3, bytes(b))])  # type: ignore[arg-type]
            for c, h, b in rows
        ]
    )


@pytest.mark.parametrize(
    ("disabled", "emergency"), list(itertools.product([False, True], repeat=2))
)
def test_the_rows_a_payment_mode_sets_read_back_as_its_flags(
    disabled: bool, emergency: bool
) -> None:
    rows = credit_charge_rows(
        prepayment=True, suspend_disabled=disabled, suspend_emergency=emergency
    )
    assert suspend_debt_flags(_as_dlms(rows)) == (disabled, emergency)


def test_credit_mode_rows_say_nothing_about_debt() -> None:
    assert suspend_debt_flags(_as_dlms(credit_charge_rows(prepayment=False))) is None
    assert suspend_debt_flags(None) is None
