"""The six signed columns ending a billing row (ECS20b, `0-0:98.1.2`, taken on a
change of payment mode or tariff) are the ECS19 prepayment registers as of the
row's capture, not energy registers."""

from __future__ import annotations

import datetime as _dt

import pytest
from devices_support import START, Lab, build_lab, decrypted, protected_read, send

from emulator.clock import VirtualClock
from emulator.devices.base import DeviceType
from emulator.devices.prepay_bridge import prepayment_registers
from emulator.gbcs.dlms.apdu import Obis
from emulator.gbcs.dlms.axdr import CompactArray, DoubleLong, Structure
from emulator.premises import Premises
from hil.dcc.commands import Sender

ECS20B, BILLING = 0x002F, "0-0:98.1.2.255"


def _lab(variant: str) -> Lab:
    if variant == "single":
        return build_lab()
    clock = VirtualClock(START)
    devices = ((DeviceType.ESME, 0xA0, {"variant": variant}), (DeviceType.PPMID, 0xA4))
    premises = Premises.build(clock=clock, devices=devices)
    security = premises.security_for()
    senders = {role: Sender(party.eui, security) for role, party in premises.parties.items()}
    return Lab(premises, clock, senders)


@pytest.mark.parametrize("variant", ["single", "twin"])
def test_a_billing_row_ends_in_the_prepayment_registers(variant: str) -> None:
    lab = _lab(variant)
    esme = lab.esme
    esme.catch_up()
    meter = esme.meter
    meter.balance = -250  # signed: a balance below zero must read back below zero
    meter.debts[0].amount, meter.debts[1].amount, meter.debts[2].amount = 120, 45, 300
    lab.advance(_dt.timedelta(days=1, hours=1))  # past a midnight: no row (ECS20b)
    esme.catch_up()
    assert not esme.profiles.get(bytes(Obis(BILLING)))
    meter.set_payment_mode(not meter.prepayment)  # a change of mode: a row
    response = send(esme, protected_read(lab.supplier, esme, ECS20B, [(7, BILLING, 2)]))
    (value,) = decrypted(response, lab.verifier).decrypted_dlms
    assert isinstance(value, Structure)
    buffer = value.items[0]
    assert isinstance(buffer, CompactArray) and buffer.values
    row = buffer.values[-1]
    assert isinstance(row, Structure)
    tail = row.items[-6:]
    assert all(isinstance(v, DoubleLong) for v in tail)
    got = [v.value for v in tail if isinstance(v, DoubleLong)]
    # balance, emergency credit, accumulated debt, payment debt, time debts 1 and 2
    assert got == [-250_000, 0, 465_000, 300_000, 120_000, 45_000]
    assert got == prepayment_registers(esme)  # the ECS19 registers, one source
