"""GB local time: the calendars (tiers, non-disablement) follow British Summer Time."""

from __future__ import annotations

import datetime as dt

from emulator.metering import DayProfile, Meter, NonDisablementCalendar, Tariff, TouCalendar
from emulator.metering.calendar import gb_next_change, gb_utc_offset

UTC = dt.UTC
SPRING = dt.datetime(2026, 3, 29, 1, tzinfo=UTC)  # last Sunday of March, 01:00 UTC
AUTUMN = dt.datetime(2026, 10, 25, 1, tzinfo=UTC)  # last Sunday of October, 01:00 UTC


def economy7() -> Tariff:
    """Tier 2 from 00:00 to 07:00 local time, tier 1 otherwise."""
    days = {1: DayProfile(((0, 2), (420, 1)))}
    return Tariff((30_000, 10_000), 0, calendar=TouCalendar(days, {1: (1,) * 7}))


def test_gb_offset_changes_at_0100_utc_on_the_last_sundays() -> None:
    second = dt.timedelta(seconds=1)
    assert gb_utc_offset(SPRING - second) == dt.timedelta(0)
    assert gb_utc_offset(SPRING) == dt.timedelta(hours=1)
    assert gb_utc_offset(AUTUMN - second) == dt.timedelta(hours=1)
    assert gb_utc_offset(AUTUMN) == dt.timedelta(0)
    assert gb_next_change(dt.datetime(2026, 1, 1, tzinfo=UTC)) == SPRING
    assert gb_next_change(SPRING) == AUTUMN
    assert gb_next_change(AUTUMN) == dt.datetime(2027, 3, 28, 1, tzinfo=UTC)


def test_tou_switches_at_local_time_after_the_spring_change() -> None:
    meter = Meter(1000, tariff=economy7())
    meter.advance(dt.datetime(2026, 3, 29, 0, tzinfo=UTC))
    meter.advance(dt.datetime(2026, 3, 29, 6, 30, tzinfo=UTC))  # 07:30 BST: day rate
    assert meter.tier_wh[:2] == [500, 6000]
    assert meter.active_tier == 1


def test_the_autumn_night_is_an_hour_longer_in_utc() -> None:
    meter = Meter(1000, tariff=economy7())
    meter.advance(dt.datetime(2026, 10, 24, 22, tzinfo=UTC))  # 23:00 BST
    meter.advance(dt.datetime(2026, 10, 25, 8, tzinfo=UTC))  # 08:00 GMT
    assert meter.tier_wh[:2] == [2000, 8000]  # night 23:00 UTC .. 07:00 UTC


def test_a_jump_across_a_change_equals_small_steps() -> None:
    start = dt.datetime(2026, 3, 28, 12, tzinfo=UTC)
    jump, steps = Meter(700, tariff=economy7()), Meter(700, tariff=economy7())
    jump.advance(start)
    steps.advance(start)
    jump.advance(start + dt.timedelta(days=2))
    for minutes in range(0, 2 * 1440 + 1, 7):
        steps.advance(start + dt.timedelta(minutes=minutes))
    steps.advance(start + dt.timedelta(days=2))
    assert jump.tier_wh == steps.tier_wh and jump.ledger == steps.ledger


def test_utc_calendars_when_local_time_is_off() -> None:
    meter = Meter(1000, tariff=economy7())
    meter.local_time = False
    meter.advance(dt.datetime(2026, 3, 29, 0, tzinfo=UTC))
    meter.advance(dt.datetime(2026, 3, 29, 6, 30, tzinfo=UTC))
    assert meter.tier_wh[:2] == [0, 6500]


def test_non_disablement_periods_are_local() -> None:
    meter = Meter()
    every_day = frozenset(range(7))
    meter.config.non_disablement = NonDisablementCalendar(((every_day, 16 * 60, 18 * 60),))
    summer = dt.datetime(2026, 7, 1, 15, 30, tzinfo=UTC)  # 16:30 BST
    assert meter.protected(summer)
    assert not meter.protected(summer + dt.timedelta(hours=2))  # 18:30 BST
    assert meter.protected(dt.datetime(2026, 1, 7, 16, 30, tzinfo=UTC))  # 16:30 GMT
