"""GCS25a (set billing calendar on the GSME): the published billing period is the
GSME engine's billing calendar, and its billing data log takes the end of billing
period entries (ZSE snapshot cause 0x0002) at the calendar's executions, in order
after a clock jump, each with the meter as it was then."""

from __future__ import annotations

import datetime as _dt
import itertools
from typing import Any

from devices_support import build_lab, gbz_command, gbz_response, send, zcl, zigbee

from emulator.devices.zcl_model import PRICE
from emulator.metering.schedule import DEFAULT_BILLING, DEFAULT_BLOCK_RESET, Execution

GCS25A = 0x00D8
PUBLISH_BLOCK_PERIOD, PUBLISH_BILLING_PERIOD = 0x01, 0x09
BILLING_END = 0x0002


def _gcs25a(start: int, duration: int, kind: int) -> list[Any]:
    """As the reference GCS25a: a billing period, then a block period of the same shape."""
    billing = {
        "provider_id": 0,
        "issuer_event_id": start,
        "billing_period_start_time": start,
        "billing_period_duration": duration,
        "billing_period_duration_type": kind,
        "tariff_type": 0,
    }
    block = {
        "provider_id": 0,
        "issuer_event_id": start,
        "block_period_start_time": start,
        "block_period_duration": duration,
        "block_period_control": 2,
        "block_period_duration_type": kind,
        "tariff_type": 0,
        "tariff_resolution_period": 1,
    }
    return [
        zcl(PRICE, PUBLISH_BILLING_PERIOD, billing, to_client=True),
        zcl(PRICE, PUBLISH_BLOCK_PERIOD, block, to_client=True),
    ]


def _statuses(lab: Any, components: list[Any]) -> list[int]:
    command = gbz_command(lab.supplier, lab.gsme, GCS25A, *components, critical=True)
    return [c.frame.fields["status"] for c in gbz_response(send(lab.gsme, command)).components]


def test_the_reference_gcs25a_sets_the_engine_calendar() -> None:
    lab = build_lab()
    gsme = lab.gsme
    assert gsme.meter.billing_schedule == DEFAULT_BILLING  # the factory billing period
    assert gsme.meter.block_reset_schedule == DEFAULT_BLOCK_RESET
    # the reference: from 2015-01-01 00:00, six months, duration control not specified
    assert _statuses(lab, _gcs25a(473385600, 6, 0x23)) == [0, 0]
    half_yearly = (Execution(0, month=1, day=1), Execution(0, month=7, day=1))
    assert gsme.meter.billing_schedule == half_yearly
    assert gsme.meter.block_reset_schedule == half_yearly


def test_billing_log_entries_follow_the_calendar_after_a_jump() -> None:
    lab = build_lab()  # Monday 2 March 2026, 10:00
    gsme = lab.gsme
    gsme.meter.prepayment = False  # nothing disables the supply: energy is load x time
    start = zigbee(_dt.datetime(2026, 3, 5, 12, 0, tzinfo=_dt.UTC))
    assert _statuses(lab, _gcs25a(start, 1, 0x22)) == [0, 0]  # weekly, Thursday 12:00
    assert gsme.meter.billing_schedule == (Execution(12 * 3600, weekday=4),)
    lab.advance(_dt.timedelta(days=20))
    gsme.catch_up()
    ends = [s for s in gsme.zcl.snapshots if s["cause"] & BILLING_END]
    days = (5, 12, 19)
    times = [zigbee(_dt.datetime(2026, 3, d, 12, 0, tzinfo=_dt.UTC)) for d in days]
    assert [s["time"] for s in ends] == times  # none at a midnight (the 1st was before)
    assert all(s["cause"] == BILLING_END for s in ends)
    # each holds the meter at its own time: a week of a constant load between them
    week = 7 * 24 * gsme.meter.load_w
    sums = [s["summation"] for s in ends]
    assert [b - a for a, b in itertools.pairwise(sums)] == [week, week]
    prepay = [s["time"] for s in gsme.zcl.prepay_snapshots if s["cause"] & BILLING_END]
    assert prepay == times
    engine = [s["time"] for s in gsme.meter.billing_snapshots if s.get("cause") == "billing"]
    assert engine == [f"2026-03-{d:02d}T12:00:00+00:00" for d in days]


def test_a_period_the_engine_cannot_run_is_counted_not_applied() -> None:
    lab = build_lab()
    gsme = lab.gsme
    five_weeks = _gcs25a(0, 5, 0x02)
    assert _statuses(lab, five_weeks) == [0, 0]  # held (read back), but not run
    assert gsme.meter.billing_schedule == DEFAULT_BILLING
    assert gsme.meter.block_reset_schedule == DEFAULT_BLOCK_RESET
    assert gsme.dropped_settings == 2


def test_a_midnight_execution_is_the_days_entry_too() -> None:
    lab = build_lab()  # Monday 2 March 2026
    gsme = lab.gsme
    assert _statuses(lab, _gcs25a(0, 1, 0x02)) == [0, 0]  # weekly from the start of the week
    assert gsme.meter.billing_schedule == (Execution(0, weekday=1),)  # Monday 00:00
    lab.advance(_dt.timedelta(days=15))
    gsme.catch_up()
    causes = {
        _dt.datetime.fromtimestamp(s["time"] + 946_684_800, _dt.UTC).date(): s["cause"]
        for s in gsme.zcl.snapshots
    }
    mondays = {_dt.date(2026, 3, 9), _dt.date(2026, 3, 16)}
    assert len(causes) == 15 == len(gsme.zcl.snapshots)  # one entry a day, none extra
    assert {d for d, c in causes.items() if c == 0x0003} == mondays
    assert all(c == 0x0001 for d, c in causes.items() if d not in mondays)
