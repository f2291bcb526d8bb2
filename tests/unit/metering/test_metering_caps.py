"""Caps: each debt register's recovery cap per period, and the maximum meter balance
on a balance adjustment (issue 10)."""

from __future__ import annotations

import datetime as dt

from emulator.metering import Debt, Meter, PrepayConfig, Tariff
from emulator.metering import prepay as p

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def prepay_meter(**config: int) -> Meter:
    meter = Meter(0, balance=5000, prepayment=True, tariff=Tariff((0,), 0))
    meter.config = PrepayConfig(**config)  # type: ignore[arg-type]
    meter.advance(T0)
    return meter


def test_a_time_debt_register_recovers_at_most_its_cap_per_period() -> None:
    meter = prepay_meter()
    meter.set_debt(0, Debt(p.TIME, 1000, 100_000, 86_400, cap=30))  # 100p a day, capped 30p
    meter.set_debt(1, Debt(p.TIME, 1000, 20_000, 86_400))  # 20p a day, no cap
    meter.advance(T0 + 2 * DAY)
    assert [d.amount for d in meter.debts[:2]] == [1000 - 60, 1000 - 40]
    assert meter.ledger.debt_recovered == 100 and meter.ledger.balanced


def test_a_payment_debt_register_takes_at_most_its_cap_per_period() -> None:
    meter = prepay_meter()
    meter.set_debt(2, Debt(p.PAYMENT, 1000, 5000, cap=150))  # half of each top-up, 150p a day
    assert meter.top_up(200) == 0  # 100p to the debt
    assert meter.top_up(200) == 0  # only 50p more today
    assert meter.debts[2].amount == 850
    meter.advance(T0 + DAY)
    assert meter.top_up(200) == 0  # a new period: 100p again
    assert meter.debts[2].amount == 750 and meter.ledger.balanced


def test_adjustment_above_the_maximum_meter_balance_is_refused_with_its_reason() -> None:
    meter = prepay_meter(max_meter_balance=6000)
    meter.take_events()
    assert meter.adjust(1500) == p.MAX_BALANCE_EXCEEDED
    assert meter.balance == 5000 and meter.ledger.money_in == 0
    assert [e.code for e in meter.take_events()] == [p.MAX_BALANCE_EXCEEDED]
    assert meter.adjust(1000) == 0 and meter.balance == 6000
    assert meter.set_balance(7000) == p.MAX_BALANCE_EXCEEDED
    assert meter.adjust(-2000) == 0 and meter.balance == 4000  # money out is never capped
    assert meter.ledger.balanced


def test_top_up_refusals_keep_their_reasons() -> None:
    meter = prepay_meter(max_credit=2000, max_meter_balance=8000)
    meter.take_events()
    assert meter.top_up(2500) == p.MAX_CREDIT_EXCEEDED
    assert meter.top_up(2000) == 0
    assert meter.top_up(1500) == p.MAX_BALANCE_EXCEEDED
    assert [e.code for e in meter.take_events() if e.code != p.LOW_CREDIT] == [
        p.MAX_CREDIT_EXCEEDED,
        p.MAX_BALANCE_EXCEEDED,
    ]
    assert meter.balance == 7000
