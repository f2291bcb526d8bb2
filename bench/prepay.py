"""Metering and prepayment engine throughput: simulated meter-days per second.

    python bench/prepay.py [--days N] [--premises N]

Prints one JSON line. Each premises has an electricity meter (economy-7 time of
use, seeded random load, prepayment, a time debt being recovered) and a gas
meter (block tariff), advanced one day at a time on a virtual clock; every day
writes 48 half-hour log entries and a daily log entry per meter, so a meter-day
here includes its half-hourly logs. `one` runs one premises for `--days`;
`many` runs `--premises` premises for a week in one process. The target is a
meter-day in under 20 ms (wall clock; `cpu_ms_per_meter_day` is this
process's CPU time, what the figure would be on an idle machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

from emulator.metering import (
    DayProfile,
    Debt,
    Meter,
    SeededRandom,
    Tariff,
    TouCalendar,
)
from emulator.metering.prepay import TIME

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def premises(seed: int) -> list[Meter]:
    e7 = TouCalendar({1: DayProfile(((0, 2), (420, 1)))}, {1: (1,) * 7})
    esme = Meter(
        0, prepayment=True, balance=10**7, tariff=Tariff((30_000, 12_000), 45_000, calendar=e7)
    )
    esme.set_profile(SeededRandom(seed, 0, 3000))
    esme.set_debt(0, Debt(TIME, 10**6, 50_000, 86_400))
    gas = Tariff(
        (0,), 28_000, block_thresholds=(10_000, 30_000), block_prices=(6_000, 7_000, 8_000)
    )
    gsme = Meter(0, prepayment=True, balance=10**7, tariff=gas)
    gsme.set_profile(SeededRandom(seed + 1, 0, 6000))
    for meter in (esme, gsme):
        meter.advance(T0)
    return [esme, gsme]


def run(count: int, days: int) -> dict[str, float]:
    meters = [m for seed in range(count) for m in premises(seed)]
    start, cpu = time.perf_counter(), time.process_time()
    for day in range(1, days + 1):
        now = T0 + day * DAY
        for meter in meters:
            meter.advance(now)
            meter.take_events()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    meter_days = len(meters) * days
    assert all(m.ledger.balanced for m in meters)
    assert all(len(m.half_hour_log) == 48 * days for m in meters)
    return {
        "meters": len(meters),
        "days": days,
        "meter_days": meter_days,
        "seconds": round(elapsed, 3),
        "meter_days_per_s": round(meter_days / elapsed, 1),
        "ms_per_meter_day": round(1000 * elapsed / meter_days, 3),
        "cpu_ms_per_meter_day": round(1000 * cpu / meter_days, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days for the one premises")
    parser.add_argument("--premises", type=int, default=1000, help="premises in one process")
    parser.add_argument("--many-days", type=int, default=7, help="days for the many premises")
    args = parser.parse_args()
    one = run(1, args.days)
    many = run(args.premises, args.many_days)
    print(
        json.dumps(
            {
                "one_premises": one,
                "many_premises": many,
                "target_ms_per_meter_day": 20,
                "meets_target": max(one["ms_per_meter_day"], many["ms_per_meter_day"]) < 20,
            }
        )
    )


if __name__ == "__main__":
    main()
