"""The six signed columns ending a billing row (ECS20b, `0-0:98.1.2`, taken on a
change of payment mode or tariff) are the ECS19 prepayment registers as of the
row's capture, not energy registers."""

from __future__ import annotations

import datetime as _dt

import pytest
from devices_support import build_lab, last_row

from emulator.devices.prepay_bridge import prepayment_registers
from emulator.gbcs.dlms.apdu import Obis
from emulator.gbcs.dlms.axdr import DoubleLong

ECS20B, BILLING = 0x002F, "0-0:98.1.2.255"


@pytest.mark.parametrize("variant", ["single", "twin"])
def test_a_billing_row_ends_in_the_prepayment_registers(variant: str) -> None:
    lab = build_lab() if variant == "single" else build_lab(esme_variant=variant)
    esme = lab.esme
    esme.catch_up()
    meter = esme.meter
    meter.balance = -250  # signed: a balance below zero must read back below zero
    meter.debts[0].amount, meter.debts[1].amount, meter.debts[2].amount = 120, 45, 300
    lab.advance(_dt.timedelta(days=1, hours=1))  # past a midnight: no row (ECS20b)
    esme.catch_up()
    assert not esme.profiles.get(bytes(Obis(BILLING)))
    meter.set_payment_mode(not meter.prepayment)  # a change of mode: a row
    row = last_row(lab, esme, ECS20B, BILLING)
    tail = row.items[-6:]
    assert all(isinstance(v, DoubleLong) for v in tail)
    got = [v.value for v in tail if isinstance(v, DoubleLong)]
    # balance, emergency credit, accumulated debt, payment debt, time debts 1 and 2
    assert got == [-250_000, 0, 465_000, 300_000, 120_000, 45_000]
    assert got == prepayment_registers(esme)  # the ECS19 registers, one source
