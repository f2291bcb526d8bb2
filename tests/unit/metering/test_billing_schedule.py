"""The billing calendar (ECS30) and the block counter reset (ECS48) drive the
engine: snapshots and block period resets at their execution times, in order
after a clock jump; a change of payment mode or tariff takes a snapshot too."""

from __future__ import annotations

import datetime as dt

import pytest

from emulator.metering import Meter, MeteringError, Tariff
from emulator.metering.schedule import Execution

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
#: ECS30's reference command: 12:00:00 on day 1 of every month.
ECS30 = Execution.from_cosem(bytes.fromhex("0C000000"), bytes.fromhex("FFFFFF01FF"))


def block_meter() -> Meter:
    """1 kW on a block tariff: 10p to 5 kWh of the block period, then 30p."""
    tariff = Tariff((10_000,), 0, block_thresholds=(5000,), block_prices=(10_000, 30_000))
    meter = Meter(1000, prepayment=True, balance=1_000_000, tariff=tariff)
    meter.advance(T0)
    return meter


def test_reference_billing_calendar_parses_to_noon_on_day_one() -> None:
    assert Execution(12 * 3600, day=1) == ECS30
    assert ECS30.on(dt.date(2026, 4, 1)) and not ECS30.on(dt.date(2026, 4, 2))
    assert Execution(0, day=0xFE).on(dt.date(2026, 2, 28))
    assert not Execution(0, day=0xFE).on(dt.date(2026, 2, 27))
    assert Execution(0, day=0xFD).on(dt.date(2026, 2, 27))
    with pytest.raises(MeteringError):
        Execution(86_400)


def test_billing_calendar_snapshots_at_its_time_in_order_after_a_jump() -> None:
    meter = block_meter()
    meter.billing_schedule = (ECS30,)
    meter.advance(T0 + 70 * DAY)  # one jump over 1 April and 1 May at 12:00
    billing = [s for s in meter.billing_snapshots if s["cause"] == "billing"]
    assert [s["time"] for s in billing] == [
        "2026-04-01T12:00:00+00:00",
        "2026-05-01T12:00:00+00:00",
    ]
    assert billing[0]["import_wh"] == (30 * 24 + 12) * 1000


def test_billing_calendar_ends_the_block_period() -> None:
    meter = block_meter()
    meter.block_reset_schedule = ()
    meter.billing_schedule = (Execution(6 * 3600),)  # daily at 06:00
    meter.advance(T0 + 6 * HOUR)
    assert meter.primary.period_ws == 0 and sum(meter.block_counter_wh) == 0
    meter.advance(T0 + 12 * HOUR)
    assert sum(meter.block_counter_wh) == 6000  # 5 kWh in block 1, 1 in block 2
    assert meter.block_counter_wh[8] == 1000


def test_daily_block_reset_off_keeps_the_block_period_running() -> None:
    on, off = block_meter(), block_meter()
    off.block_reset_schedule = ()
    off.billing_schedule = ()
    for m in (on, off):
        m.advance(T0 + 2 * DAY)
    assert sum(on.block_counter_wh) == 0  # reset at midnight (the default)
    assert sum(off.block_counter_wh) == 48_000
    # off: 5 kWh at 10p, 43 at 30p; on: each day 5 at 10p and 19 at 30p
    assert off.ledger.energy_cost == 50 + 43 * 30
    assert on.ledger.energy_cost == 2 * (50 + 19 * 30)


def test_block_reset_at_its_execution_time() -> None:
    meter = block_meter()
    meter.billing_schedule = ()
    meter.block_reset_schedule = (Execution(6 * 3600),)
    meter.advance(T0 + DAY)  # reset at 06:00 only, not at midnight
    assert sum(meter.block_counter_wh) == 18_000
    assert meter.primary.period_ws == 18_000 * 3600


def test_mode_change_and_tariff_activation_take_snapshots() -> None:
    meter = block_meter()
    meter.billing_schedule = ()
    seen: list[tuple[dt.datetime, str]] = []
    meter.billing_hook = lambda t, cause: seen.append((t, cause))
    meter.advance(T0 + HOUR)
    meter.set_payment_mode(False)
    meter.publish_tariff(Tariff((10_000,), 0))  # now: prices, then the standing charge,
    meter.publish_tariff(Tariff((10_000,), 100))  # of one change: one snapshot
    meter.publish_tariff(Tariff((20_000,), 0), T0 + 3 * HOUR)
    meter.advance(T0 + 4 * HOUR)
    assert seen == [(T0 + HOUR, "mode"), (T0 + HOUR, "tariff"), (T0 + 3 * HOUR, "tariff")]
    assert [s["import_wh"] for s in meter.billing_snapshots] == [1000, 1000, 3000]


def test_schedules_survive_the_state_file() -> None:
    meter = block_meter()
    meter.billing_schedule = (ECS30,)
    meter.block_reset_schedule = ()
    again = Meter.from_json(meter.to_json())
    assert again.billing_schedule == (ECS30,) and again.block_reset_schedule == ()
    old = meter.to_json()
    del old["billing_schedule"]
    old["billing_day"] = 5
    assert Meter.from_json(old).billing_schedule == (Execution(0, day=5),)
