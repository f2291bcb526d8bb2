"""The metering and prepayment engine: exact money, tariffs, prepayment rules."""

from __future__ import annotations

import datetime as dt

import pytest

from emulator.metering import (
    Constant,
    DayProfile,
    Debt,
    HalfHourly,
    Meter,
    MeteringError,
    NonDisablementCalendar,
    PrepayConfig,
    SeededRandom,
    Tariff,
    TouCalendar,
    pence_from_millipence,
)
from emulator.metering import prepay as p
from emulator.metering.schedule import Execution

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)  # a Monday
DAY = dt.timedelta(days=1)


def started(meter: Meter, at: dt.datetime = T0) -> Meter:
    meter.advance(at)
    return meter


def codes(meter: Meter) -> list[int]:
    return [e.code for e in meter.take_events()]


def economy7() -> Tariff:
    """Tier 2 (cheap) from 00:00 to 07:00, tier 1 otherwise."""
    days = {1: DayProfile(((0, 2), (420, 1)))}
    return Tariff((30_000, 10_000), 40_000, calendar=TouCalendar(days, {1: (1,) * 7}))


def test_a_day_in_one_jump_equals_a_day_second_by_second() -> None:
    jump = started(Meter(733, prepayment=True, balance=5000, tariff=economy7()))
    jump.set_profile(SeededRandom(7, 0, 2500))
    steps = started(Meter(733, prepayment=True, balance=5000, tariff=economy7()))
    steps.set_profile(SeededRandom(7, 0, 2500))
    jump.advance(T0 + DAY)
    for second in range(0, 86_400 + 1, 13):
        steps.advance(T0 + dt.timedelta(seconds=second, microseconds=500))
    steps.advance(T0 + DAY)
    assert jump.to_json() == steps.to_json()
    assert len(jump.half_hour_log) == 48 and len(jump.daily_log) == 1


def test_time_of_use_charges_each_tier_at_its_price_exactly() -> None:
    meter = started(Meter(1000, prepayment=True, balance=10_000, tariff=economy7()))
    meter.advance(T0 + DAY)
    assert meter.tier_wh[:2] == [17_000, 7_000]
    # 17 kWh at 30p + 7 kWh at 10p = 580p; standing charge 40p
    assert meter.ledger.energy_cost == 580 and meter.ledger.standing_charge == 40
    assert meter.balance == 10_000 - 620 and meter.ledger.balanced


def test_sub_penny_costs_are_carried_not_lost() -> None:
    tariff = Tariff((12_345,), 33_333)  # 12.345p/kWh, 33.333p/day
    meter = started(Meter(1, prepayment=True, balance=10_000, tariff=tariff))
    meter.advance(T0 + 30 * DAY)
    assert meter.import_wh == 720
    micro = meter.ledger.energy_cost * 1_000_000 + meter.cost_carry
    assert micro == 720 * 12_345
    standing = meter.ledger.standing_charge * 86_400_000 + meter.standing_carry
    assert standing == 33_333 * 30 * 86_400
    assert meter.ledger.balanced


def test_block_thresholds_split_consumption_and_restart_each_day() -> None:
    tariff = Tariff((0,), 0, block_thresholds=(5000,), block_prices=(10_000, 20_000))
    meter = started(Meter(1000, prepayment=True, balance=10_000, tariff=tariff))
    meter.advance(T0 + 2 * DAY)
    assert meter.block_wh[:2] == [10_000, 38_000]
    assert meter.ledger.energy_cost == 2 * (50 + 19 * 20)


def test_future_dated_price_change_at_midnight_mid_month() -> None:
    meter = started(Meter(1000, prepayment=True, balance=100_000, tariff=Tariff((20_000,), 0)))
    meter.publish_tariff(Tariff((25_000,), 0), at=T0 + 15 * DAY)
    meter.advance(T0 + 30 * DAY)
    assert meter.ledger.energy_cost == 15 * 24 * 20 + 15 * 24 * 25
    assert meter.primary.tariffs.active(T0 + 30 * DAY).tier_prices == (25_000,)


def test_calendar_seasons_weeks_and_special_days() -> None:
    days = {1: DayProfile(), 2: DayProfile(((0, 2),)), 3: DayProfile(((0, 3), (720, 4)))}
    weeks = {1: (1, 1, 1, 1, 1, 2, 2), 2: (3,) * 7}
    special = {dt.date(2026, 12, 25): 2}
    cal = TouCalendar(days, weeks, ((1, 1, 1), (6, 1, 2), (9, 1, 1)), special)
    assert cal.day_profile(dt.date(2026, 3, 2)).tier_at(600) == 1  # Monday, winter
    assert cal.day_profile(dt.date(2026, 3, 7)).tier_at(600) == 2  # Saturday
    assert cal.day_profile(dt.date(2026, 7, 1)).tier_at(800) == 4  # summer afternoon
    assert cal.day_profile(dt.date(2026, 12, 25)).tier_at(0) == 2  # special day
    with pytest.raises(MeteringError):
        TouCalendar(days, {1: (1, 1)})


def test_credit_runs_out_inside_non_disablement_then_disables_at_its_end() -> None:
    nights = NonDisablementCalendar(((frozenset(range(7)), 0, 480),))  # 00:00-08:00
    config = PrepayConfig(non_disablement=nights, emergency_credit_threshold=0)
    meter = started(
        Meter(1000, prepayment=True, balance=50, tariff=Tariff((20_000,), 0), config=config)
    )
    meter.advance(T0 + dt.timedelta(hours=7))  # 50p at 20p/h runs out at 02:30
    assert meter.supply_enabled and meter.balance < 0
    assert p.DISABLEMENT_SUSPENDED in codes(meter)
    meter.advance(T0 + dt.timedelta(hours=9))
    assert not meter.supply_enabled
    disabled = [e for e in meter.take_events() if e.code == p.SUPPLY_DISABLED]
    assert [e.at for e in disabled] == [T0 + dt.timedelta(hours=8)]


def test_supply_disabled_at_the_second_credit_is_exhausted() -> None:
    meter = started(Meter(3600, prepayment=True, balance=72, tariff=Tariff((20_000,), 0)))
    meter.advance(T0 + DAY)  # 72p/h: one hour of credit
    disabled = [e for e in meter.take_events() if e.code == p.SUPPLY_DISABLED]
    assert disabled[0].at == T0 + dt.timedelta(hours=1) and disabled[0].credit <= 0
    assert meter.import_wh == 3600 and meter.ledger.energy_cost == 72


def test_emergency_credit_offered_activated_exhausted_then_top_up_arms() -> None:
    config = PrepayConfig(emergency_credit_limit=100, emergency_credit_threshold=50)
    meter = started(
        Meter(1000, prepayment=True, balance=200, tariff=Tariff((20_000,), 0), config=config)
    )
    assert not meter.activate_emergency_credit()  # not offered above the threshold
    meter.advance(T0 + dt.timedelta(hours=8))  # 160p used: balance 40
    assert p.EC_AVAILABLE in codes(meter) and meter.balance == 40
    assert meter.activate_emergency_credit() and meter.emergency_credit_balance == 100
    meter.advance(T0 + DAY)
    assert not meter.supply_enabled and meter.balance == -100
    assert codes(meter)[-2:] == [p.EC_EXHAUSTED, p.SUPPLY_DISABLED]
    assert meter.top_up(500) == 0
    assert meter.balance == 400 and not meter.emergency_credit_active
    assert p.SUPPLY_ARMED in codes(meter) and not meter.supply_enabled  # armed, not on


def test_time_debt_recovered_at_its_rate_within_the_cap() -> None:
    config = PrepayConfig(debt_cap=30, debt_cap_period=86_400, suspend_debt_emergency=False)
    meter = started(
        Meter(0, prepayment=True, balance=10_000, tariff=Tariff((0,), 0), config=config)
    )
    meter.set_debt(0, Debt(p.TIME, 1000, 1000, 3600))  # 1p per hour, 24p a day
    meter.set_debt(1, Debt(p.TIME, 1000, 500, 3600))  # 0.5p per hour, 12p a day
    meter.advance(T0 + DAY)
    assert meter.ledger.debt_recovered == 30  # capped: 36p due
    assert meter.debt == 2000 - 30 and meter.balance == 10_000 - 30 and meter.ledger.balanced


def test_payment_debt_takes_its_share_of_each_top_up() -> None:
    meter = started(Meter(0, prepayment=True, balance=0, tariff=Tariff((0,), 0)))
    meter.set_debt(2, Debt(p.PAYMENT, 150, 2500))  # 25% of each payment
    meter.top_up(400)
    assert meter.balance == 300 and meter.debts[2].amount == 50
    meter.top_up(400)
    assert meter.balance == 650 and meter.debt == 0
    assert p.DEBT_CLEARED[2] in codes(meter) and meter.ledger.balanced


def test_maximum_credit_and_maximum_meter_balance_refuse_a_top_up() -> None:
    config = PrepayConfig(max_credit=5000, max_meter_balance=8000)
    meter = started(Meter(0, prepayment=True, balance=4000, config=config))
    assert meter.top_up(6000) == p.MAX_CREDIT_EXCEEDED
    assert meter.top_up(4500) == p.MAX_BALANCE_EXCEEDED
    assert meter.balance == 4000 and meter.ledger.money_in == 0
    assert meter.top_up(4000) == 0 and meter.balance == 8000


def test_credit_mode_keeps_the_balance_and_recovers_no_debt() -> None:
    meter = started(Meter(1000, prepayment=False, balance=100, tariff=Tariff((20_000,), 0)))
    meter.set_debt(0, Debt(p.TIME, 500, 100_000))
    meter.advance(T0 + DAY)
    assert meter.balance == 100 and meter.supply_enabled and meter.debt == 500
    assert meter.ledger.credit_mode_cost == 480
    meter.set_payment_mode(True)
    meter.advance(T0 + 2 * DAY)
    assert not meter.supply_enabled and meter.ledger.balanced


def test_adjustments_and_reset_are_money_in() -> None:
    meter = started(Meter(0, prepayment=True, balance=300))
    meter.adjust(-100)
    meter.reset_balance()
    assert meter.balance == 0 and meter.ledger.money_in == -300 and meter.ledger.balanced


def test_twin_element_secondary_charges_on_its_own_tariff() -> None:
    meter = started(
        Meter(1000, prepayment=True, balance=10_000, tariff=Tariff((20_000,), 0), twin=True)
    )
    meter.set_profile(Constant(2000), secondary=True)
    meter.publish_tariff(Tariff((5_000,), 0), secondary=True)
    meter.advance(T0 + DAY)
    assert meter.secondary is not None and meter.secondary.import_wh == 48_000
    assert meter.ledger.energy_cost == 24 * 20 + 48 * 5


def test_billing_snapshot_on_the_billing_day() -> None:
    meter = started(Meter(1000, prepayment=True, balance=100_000))
    meter.billing_schedule = (Execution(0, day=5),)
    meter.advance(T0 + 10 * DAY)
    (snapshot,) = meter.billing_snapshots
    assert snapshot["time"] == "2026-03-05T00:00:00+00:00" and snapshot["import_wh"] == 72_000


def test_state_round_trip_continues_identically() -> None:
    a = started(Meter(900, prepayment=True, balance=2000, tariff=economy7()))
    a.advance(T0 + dt.timedelta(hours=30, seconds=7))
    b = Meter.from_json(a.to_json())
    for m in (a, b):
        m.advance(T0 + 3 * DAY)
    assert a.to_json() == b.to_json()


def test_profiles() -> None:
    text = "slot,watts\n" + "\n".join(f"{i},{i * 10}" for i in range(48))
    profile = HalfHourly.from_csv_text(text)
    assert profile.at(T0 + dt.timedelta(hours=23, minutes=45)) == 470
    r = SeededRandom(3, 100, 200)
    values = [r.at(T0 + dt.timedelta(minutes=30 * i)) for i in range(200)]
    assert min(values) >= 100 and max(values) <= 200 and len(set(values)) > 50
    assert values == [
        SeededRandom(3, 100, 200).at(T0 + dt.timedelta(minutes=30 * i)) for i in range(200)
    ]
    with pytest.raises(MeteringError):
        HalfHourly.from_csv_text("1\n2\nthree\n")


def test_millipence_convert_exactly_or_not_at_all() -> None:
    assert pence_from_millipence(1_234_000) == 1234
    with pytest.raises(MeteringError, match="not a whole number of pence"):
        pence_from_millipence(1500)


def test_tou_with_blocks_charges_each_tier_through_its_own_blocks() -> None:
    """Tier 2 (night) and tier 1 (day) each have thresholds and block prices; both read
    the same block period energy (from midnight)."""
    days = {1: DayProfile(((0, 2), (420, 1)))}
    tariff = Tariff(
        (30_000, 10_000),
        0,
        calendar=TouCalendar(days, {1: (1,) * 7}),
        tier_blocks=(((10_000,), (20_000, 40_000)), ((3000,), (5000, 15_000))),
    )
    meter = started(Meter(1000, prepayment=True, balance=10_000, tariff=tariff))
    meter.advance(T0 + DAY)
    # night: 3 kWh at 5p + 4 kWh at 15p; day: 3 kWh at 20p (to 10 kWh) + 14 kWh at 40p
    assert meter.ledger.energy_cost == 15 + 60 + 60 + 560
    assert meter.tier_wh[:2] == [17_000, 7_000]
    assert meter.block_wh[:2] == [6000, 18_000]
    assert Tariff.from_json(tariff.to_json()) == tariff


def test_tou_with_blocks_fills_the_tier_x_block_matrices() -> None:
    """The register matrix (block b, tier t at [b * 8 + t - 1]) adds up to the block
    registers; the block counter matrix holds the same cells for the block period
    only and restarts at midnight with it."""
    days = {1: DayProfile(((0, 2), (420, 1)))}
    tariff = Tariff(
        (30_000, 10_000),
        0,
        calendar=TouCalendar(days, {1: (1,) * 7}),
        tier_blocks=(((10_000,), (20_000, 40_000)), ((3000,), (5000, 15_000))),
    )
    meter = started(Meter(1000, prepayment=True, balance=100_000, tariff=tariff))
    meter.advance(T0 + DAY - dt.timedelta(hours=1))
    # night (tier 2): 3 kWh in block 1, 4 in block 2; day (tier 1) to 23:00: 3 and 13
    matrix = meter.tier_block_wh
    assert (matrix[0], matrix[1], matrix[8], matrix[9]) == (3000, 3000, 13_000, 4000)
    assert sum(matrix) == meter.import_wh == sum(meter.block_wh)
    assert [sum(matrix[b * 8 : b * 8 + 8]) for b in range(4)] == meter.block_wh[:4]
    assert meter.block_counter_wh == matrix  # one block period so far
    meter.advance(T0 + DAY + dt.timedelta(hours=2))  # midnight, then 2 kWh of night
    assert meter.tier_block_wh[1] == 5000 and meter.tier_block_wh[0] == 3000
    assert meter.block_counter_wh[1] == 2000
    assert sum(meter.block_counter_wh) == 2000
    again = Meter.from_json(meter.to_json())
    assert again.tier_block_wh == meter.tier_block_wh
    assert again.block_counter_wh == meter.block_counter_wh


def test_a_tier_without_blocks_keeps_its_tier_price() -> None:
    days = {1: DayProfile(((0, 2), (420, 1)))}
    tariff = Tariff(
        (30_000, 10_000),
        0,
        calendar=TouCalendar(days, {1: (1,) * 7}),
        tier_blocks=(((), ()), ((1000,), (5000, 20_000))),
    )
    meter = started(Meter(1000, prepayment=True, balance=10_000, tariff=tariff))
    meter.advance(T0 + DAY)
    assert meter.ledger.energy_cost == 5 + 6 * 20 + 17 * 30


def test_tier_blocks_are_checked() -> None:
    with pytest.raises(MeteringError):
        Tariff(tier_blocks=(((2000, 1000), (1, 2, 3)),))
    with pytest.raises(MeteringError):
        Tariff(tier_blocks=(((1000,), (1, 2, 3)),))
