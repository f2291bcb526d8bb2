"""A simulated month of random consumption, tariffs, price changes and top-ups.

The ledger balances exactly at every look, the energy and standing charges equal
what the registers and prices say to the micro-penny, and the supply is off only
when credit was exhausted outside the non-disablement calendar.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.metering import (
    DayProfile,
    Debt,
    Meter,
    NonDisablementCalendar,
    PrepayConfig,
    SeededRandom,
    Tariff,
    TouCalendar,
)
from emulator.metering import prepay as p

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
MONTH = 30 * 86_400


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    standing = draw(st.integers(0, 80_000))
    if draw(st.booleans()):
        thresholds = tuple(sorted(draw(st.sets(st.integers(1, 20_000), min_size=1, max_size=3))))
        prices = tuple(draw(st.integers(0, 60_000)) for _ in range(len(thresholds) + 1))
        return Tariff((0,), standing, block_thresholds=thresholds, block_prices=prices)
    tiers = draw(st.integers(1, 4))
    minutes = sorted(draw(st.sets(st.integers(1, 1439), max_size=5)))
    switches = ((0, 1), *((m, draw(st.integers(1, tiers))) for m in minutes))
    calendar = TouCalendar({1: DayProfile(switches)}, {1: (1,) * 7})
    prices = tuple(draw(st.integers(0, 60_000)) for _ in range(tiers))
    return Tariff(prices, standing, calendar=calendar)


def charged(before: dict[str, list[int]], after: dict[str, list[int]], tariff: Tariff) -> int:
    """Micro-pence the registers' growth costs at this tariff's prices."""
    if tariff.is_block:
        grown = [a - b for a, b in zip(after["block"], before["block"], strict=True)]
        return sum(wh * price for wh, price in zip(grown, tariff.block_prices, strict=False))
    grown = [a - b for a, b in zip(after["tier"], before["tier"], strict=True)]
    return sum(wh * tariff.price(i + 1, 0) for i, wh in enumerate(grown) if wh)


def registers(meter: Meter) -> dict[str, list[int]]:
    return {"tier": list(meter.tier_wh), "block": list(meter.block_wh)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=tariffs(),
    second=tariffs(),
    change_at=st.integers(3600, MONTH - 3600),
    looks=st.lists(st.integers(1, MONTH), min_size=5, max_size=40),
    top_ups=st.dictionaries(st.integers(1, MONTH), st.integers(1, 3000), max_size=8),
    seed=st.integers(0, 2**32),
    high=st.integers(0, 4000),
    nd=st.tuples(st.integers(0, 1200), st.integers(1, 240)),
    debt=st.integers(0, 2000),
    balance=st.integers(0, 3000),
)
def test_a_month_balances_to_the_penny(
    first: Tariff,
    second: Tariff,
    change_at: int,
    looks: list[int],
    top_ups: dict[int, int],
    seed: int,
    high: int,
    nd: tuple[int, int],
    debt: int,
    balance: int,
) -> None:
    start, length = nd
    calendar = NonDisablementCalendar(((frozenset(range(7)), start, start + length),))
    config = PrepayConfig(
        emergency_credit_limit=300, emergency_credit_threshold=100, non_disablement=calendar
    )
    meter = Meter(0, prepayment=True, balance=balance, tariff=first, config=config)
    meter.set_profile(SeededRandom(seed, 0, high))
    meter.set_debt(0, Debt(p.TIME, debt, 20_000, 86_400))
    meter.set_debt(2, Debt(p.PAYMENT, debt, 1000))
    meter.advance(T0)
    change = T0 + dt.timedelta(seconds=change_at)
    meter.publish_tariff(second, at=change)

    times = sorted({*looks, *top_ups, change_at, MONTH})
    at_change: dict[str, list[int]] | None = None
    for second_ in times:
        now = T0 + dt.timedelta(seconds=second_)
        meter.advance(now)
        if second_ == change_at:
            at_change = registers(meter)
        if second_ in top_ups:
            meter.top_up(top_ups[second_])
        if second_ % 3 == 0 and meter.emergency_credit_balance == 0:
            meter.activate_emergency_credit()
        if not meter.supply_enabled and not meter.disabled_for_credit:
            meter.supply_enabled = True  # the consumer enables an armed supply
        assert meter.ledger.balanced
        exhausted = meter.available_credit <= config.disablement_threshold
        if meter.supply_enabled and exhausted:  # on without credit: only when protected
            assert calendar.active(now)
        for event in meter.take_events():
            if event.code == p.SUPPLY_DISABLED:  # off only when the rules allow
                assert event.at is not None and not calendar.active(event.at)
                assert event.credit <= config.disablement_threshold

    assert at_change is not None
    zero = {"tier": [0] * 48, "block": [0] * 8}
    expected = charged(zero, at_change, first) + charged(at_change, registers(meter), second)
    assert meter.ledger.energy_cost * 1_000_000 + meter.cost_carry == expected
    standing = first.standing_charge * change_at + second.standing_charge * (MONTH - change_at)
    assert meter.ledger.standing_charge * 86_400_000 + meter.standing_carry == standing
    led = meter.ledger
    assert led.money_in == led.energy_cost + led.standing_charge + led.debt_recovered + (
        led.balance - led.opening_balance
    )
