"""Issue 10, last tariff gaps on the ESME: TOU with blocks (ECS01a thresholds and
block prices 0xAn..0xDn for tiers 2..8), charged per tier by the engine."""

from __future__ import annotations

import pytest
from devices_support import Lab, build_lab, results, send

from emulator.devices.prepay_bridge import BLOCK_KEYS


@pytest.fixture
def lab() -> Lab:
    lab = build_lab()
    lab.esme.catch_up()
    return lab


def price_matrix(
    tiers: dict[int, int], blocks: dict[int, tuple[int, ...]]
) -> list[tuple[bytes, int]]:
    """80 keyed entries: tiers 0x01..0x30, then block prices A1..D8 (high nibble: block)."""
    entries = [(bytes([t]), tiers.get(t, 0)) for t in range(1, 49)]
    for block, high in enumerate(BLOCK_KEYS):
        for tier in range(1, 9):
            prices = blocks.get(tier, ())
            entries.append((bytes([high | tier]), prices[block] if block < len(prices) else 0))
    return entries


def test_ecs01a_gives_tiers_2_to_8_their_own_blocks(lab: Lab) -> None:
    esme = lab.esme
    values = {
        "4": [1000, 2000],  # tier 1 thresholds (Wh)
        "5": [3000],  # tier 2
        "14.0": [3, -2],  # hundredths of a penny per kWh
        "14.2": price_matrix({1: 1500, 2: 900}, {1: (1000, 2000, 4000), 2: (500, 2500)}),
        "13.0": [0, -2],
        "13.2": [(b"", 0)],
    }
    command = lab.supplier.command("1.1.1", esme.eui, values=values)
    assert set(results(send(esme, command))) == {0}
    esme.catch_up()
    tariff = esme.meter.primary.tariffs.active(esme.clock.now())
    assert tariff.blocks(1) == ((1000, 2000), (10_000, 20_000, 40_000))
    assert tariff.blocks(2) == ((3000,), (5000, 25_000))
    assert [tariff.price(2, b) for b in (0, 1)] == [5000, 25_000]
    assert tariff.block_of(2, 2999) == 0 and tariff.block_of(2, 3000) == 1
    assert tariff.price(3, 1) == 20_000  # tier 3 has no blocks of its own: tier 1's
