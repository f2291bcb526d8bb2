"""Tariff gaps of issue 10 on the ESME: block thresholds and prices as the supplier
publishes them (ECS01a), read back by ECS24 and charged by the engine."""

from __future__ import annotations

import datetime as _dt

import pytest
from devices_support import (
    Lab,
    access_response,
    build_lab,
    decrypted,
    protected_read,
    results,
    send,
)

from emulator.devices import prepay_bridge
from emulator.gbcs.dlms.axdr import Array, DoubleLong, DoubleLongUnsigned, Structure
from emulator.metering import Constant, prepay

HOUR = _dt.timedelta(hours=1)


@pytest.fixture
def lab() -> Lab:
    lab = build_lab()
    lab.esme.catch_up()
    return lab


def price_matrix(tier1: int, blocks: tuple[int, ...]) -> list[tuple[bytes, int]]:
    """80 keyed entries: tiers 0x01..0x30, then the block prices A1..D8."""
    entries = [(bytes([t]), tier1 if t == 1 else 0) for t in range(1, 49)]
    for high in (0xA0, 0xB0, 0xC0, 0xD0):
        for tier in range(1, 9):
            block = high // 16 - 10
            price = blocks[block] if tier == 1 and block < len(blocks) else 0
            entries.append((bytes([high | tier]), price))
    return entries


def publish_blocks(lab: Lab, thresholds: list[int], blocks: tuple[int, ...]) -> list[int]:
    """ECS01a: tier 1 thresholds (Wh) and block prices (hundredths of a penny per kWh)."""
    values = {
        "4": thresholds,
        "14.0": [3, -4],  # commodity scale (kWh), price scale: 10^-4 GBP (0.01p)
        "14.2": price_matrix(0, blocks),
        "13.0": [0, -4],
        "13.2": [(b"", 0)],  # no standing charge
    }
    command = lab.supplier.command("1.1.1", lab.esme.eui, values=values)
    return results(send(lab.esme, command))


def test_block_thresholds_and_prices_come_from_the_publication(lab: Lab) -> None:
    esme = lab.esme
    assert set(publish_blocks(lab, [1000, 2000], (1000, 2000, 4000))) == {0}
    esme.catch_up()
    tariff = esme.meter.primary.tariffs.active(esme.clock.now())
    assert tariff.block_thresholds == (1000, 2000)
    assert tariff.block_prices == (10_000, 20_000, 40_000)
    # ECS24 reads the active matrix: tier 1 padded with "no threshold"
    active = esme.cosem.get(esme.model.get(21, prepay_bridge.THRESHOLDS_ACTIVE[0]), 2)  # type: ignore[arg-type]
    assert isinstance(active, Array)
    assert [v.value for v in active.items if isinstance(v, DoubleLongUnsigned)] == [
        1000,
        2000,
        prepay_bridge.NO_THRESHOLD,
    ]


def test_block_charging_changes_after_a_publish(lab: Lab) -> None:
    esme = lab.esme
    meter = esme.meter
    meter.configure({"prepayment": True, "balance": 10_000, "load_w": 1000})
    publish_blocks(lab, [1000], (1000, 3000))
    esme.catch_up()
    start = meter.ledger.energy_cost
    lab.advance(2 * HOUR)  # 1 kWh at 10p, then 1 kWh at 30p
    esme.catch_up()
    assert meter.ledger.energy_cost - start == 40
    assert meter.block_wh[:2] == [1000, 1000]
    publish_blocks(lab, [500], (500, 5000))  # a new publication: cheaper, then dearer
    esme.catch_up()
    assert meter.primary.tariffs.active(esme.clock.now()).block_thresholds == (500,)
    before = meter.ledger.energy_cost
    lab.advance(HOUR)  # already 2 kWh into the day: all of it in block 2 at 50p
    esme.catch_up()
    assert meter.ledger.energy_cost - before == 50


# -- the secondary element of a twin ESME ----------------------------------------------------


@pytest.fixture
def twin() -> Lab:
    lab = build_lab(esme_variant="twin")
    lab.esme.catch_up()
    return lab


def test_a_twin_meter_reads_its_secondary_import_in_ecs17b(twin: Lab) -> None:
    esme = twin.esme
    assert esme.meter.secondary is not None
    esme.meter.set_profile(Constant(2000), secondary=True)
    twin.advance(2 * HOUR)
    response = send(esme, protected_read(twin.supplier, esme, 0x0027, [(1, "0-0:94.44.34.10", 2)]))
    (value,) = decrypted(response, twin.verifier).decrypted_dlms
    assert isinstance(value, Structure)
    registers = value.items[0]
    assert isinstance(registers, Structure) and len(registers.items) == 5
    energy = [v.value for v in registers.items if isinstance(v, DoubleLongUnsigned)]
    assert energy == [1000, 100, 4000]  # primary 500 W, reactive 10 %, secondary 2 kW


def test_ecs01d_prices_the_secondary_element(twin: Lab) -> None:
    esme = twin.esme
    meter = esme.meter
    assert meter.secondary is not None
    meter.configure({"prepayment": True, "balance": 10_000, "load_w": 0})
    meter.set_profile(Constant(1000), secondary=True)
    values = {"0.0": [3, -4], "0.2": [(b"\x01", 5000), (b"\x02", 0), (b"\x03", 0), (b"\x04", 0)]}
    assert set(results(send(esme, twin.supplier.command("1.2.2", esme.eui, values=values)))) == {0}
    esme.catch_up()
    assert meter.secondary.tariffs.active(esme.clock.now()).tier_prices == (50_000,)
    before = meter.ledger.energy_cost
    twin.advance(HOUR)
    esme.catch_up()
    assert meter.ledger.energy_cost - before == 50  # 1 kWh at 50p on the secondary tariff


def test_ecs04_above_the_maximum_meter_balance_is_refused_and_logged(lab: Lab) -> None:
    esme = lab.esme
    esme.meter.configure({"prepayment": True, "balance": 1000, "max_meter_balance": 2000})
    assert results(send(esme, lab.supplier.command("1.5", esme.eui, amount=1_500_000))) == [250]
    assert esme.meter.balance == 1000
    assert prepay.MAX_BALANCE_EXCEEDED in esme.event_log.codes()
    assert results(send(esme, lab.supplier.command("1.5", esme.eui, amount=500_000))) == [0]
    assert esme.meter.balance == 1500


# -- money units: the ESME's COSEM amounts are millipence, the engine's pence --------------------


def test_ecs82_reads_the_balance_in_millipence(lab: Lab) -> None:
    esme = lab.esme
    esme.meter.configure({"balance": 250, "load_w": 0})  # 2.50 GBP
    response = send(esme, lab.supplier.command("4.18", esme.eui))
    assert results(response) == [0]
    (balance,) = access_response(response).data
    assert isinstance(balance, DoubleLong) and balance.value == 250_000


def test_amounts_in_are_converted_exactly_or_refused(lab: Lab) -> None:
    esme = lab.esme
    esme.meter.configure({"prepayment": True, "balance": 1000})
    assert results(send(esme, lab.supplier.command("1.5", esme.eui, amount=1_200_000))) == [0]
    assert esme.meter.balance == 2200  # 12.00 GBP added
    dropped = esme.dropped_settings
    assert results(send(esme, lab.supplier.command("1.5", esme.eui, amount=1_200_500))) == [250]
    assert esme.meter.balance == 2200 and esme.dropped_settings == dropped + 1
    assert esme.meter.ledger.balanced
