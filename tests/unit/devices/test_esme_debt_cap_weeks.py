"""ECS08's overall debt recovery cap (`0-0:94.44.128.12`, and its period `.13`; the
reference: 30 per 604800 s) bounds the time debt the engine recovers in each period,
over weeks of the virtual clock: the cap is reached early in each week, nothing more
is taken until the next week starts, and each new week takes the cap again."""

from __future__ import annotations

import datetime as _dt

from devices_support import START, build_lab, results, send

from emulator.metering import prepay
from emulator.metering.prepay import Debt

WEEK = 604_800


def test_the_ecs08_cap_holds_week_after_week() -> None:
    lab = build_lab()
    esme = lab.esme
    esme.catch_up()
    values = {"1": 5_000_000, "2": 1_500_000, "4": 30, "5": WEEK, "6": 100_000, "7": 700_000}
    assert set(results(send(esme, lab.supplier.command("2.1", esme.eui, values=values)))) == {0}
    meter = esme.meter
    assert (meter.config.debt_cap, meter.config.debt_cap_period) == (30, WEEK)
    meter.configure({"prepayment": True, "balance": 4000, "load_w": 0})  # standing charge only
    meter.set_debt(0, Debt(prepay.TIME, 5000, 10_000, 3600))  # 10p an hour: 1680p a week due
    lab.advance(_dt.timedelta(days=21))
    esme.catch_up()
    # cap periods run from the Unix epoch (a Thursday, 00:00 UTC): this run touches the
    # period of 26 Feb (from Monday 2 March, 10:00) and those of 5, 12 and 19 March
    assert meter.ledger.debt_recovered == 4 * 30
    assert meter.debts[0].amount == 5000 - 4 * 30
    recovered = {
        _dt.datetime.fromisoformat(day["time"]).date(): day["ledger"]["debt_recovered"]
        for day in meter.daily_log
    }
    # by the end of each day: the cap is taken within three hours of a period's start
    taken = [recovered[START.date() + _dt.timedelta(days=n)] for n in range(1, 22)]
    week_starts = {
        n for n in range(1, 22) if (START.date() + _dt.timedelta(days=n)).isoweekday() == 5
    }
    for n in range(1, 21):
        grew = taken[n] - taken[n - 1]
        assert grew == (30 if n + 1 in week_starts else 0), n
    assert meter.ledger.balanced
