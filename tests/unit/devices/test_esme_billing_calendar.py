"""ECS30 (billing calendar `0-0:15.0.0`) and ECS48 (daily block counter reset
`0-0:15.1.0`) set the ESME's engine schedules: the billing calendar triggered log
(`0-0:98.1.1`, ECS20c) takes its rows at the calendar's executions, not at
midnight, and the block counter matrix resets only when ECS48 says."""

from __future__ import annotations

import datetime as _dt

from devices_support import START, build_lab, dlms_command, results, send, set_

from emulator.gbcs.dlms.apdu import Obis
from emulator.gbcs.dlms.axdr import Array, OctetString, Structure, decode_data
from emulator.metering.schedule import DEFAULT_BILLING, DEFAULT_BLOCK_RESET, Execution

ECS30, ECS48 = 0x0046, 0x00DB
CALENDAR_LOG = bytes(Obis("0-0:98.1.1.255"))


def _schedule(time: str, date: str) -> Array:
    return Array([Structure([OctetString(bytes.fromhex(time)), OctetString(bytes.fromhex(date))])])


def test_billing_calendar_rows_follow_ecs30() -> None:
    lab = build_lab()
    esme = lab.esme
    assert esme.meter.billing_schedule == DEFAULT_BILLING
    value = _schedule("0C000000", "FFFFFF01FF")  # the reference: noon on day 1
    command = dlms_command(
        lab.supplier, esme, ECS30, set_(22, "0-0:15.0.0.255", 4, value), critical=True
    )
    assert results(send(esme, command)) == [0]
    assert esme.meter.billing_schedule == (Execution(12 * 3600, day=1),)
    lab.advance(_dt.timedelta(days=45))
    esme.catch_up()
    rows = esme.profiles.get(CALENDAR_LOG, [])
    assert len(rows) == 1  # 1 April 12:00 only; no row at any midnight
    (snapshot,) = [s for s in esme.meter.billing_snapshots if s.get("cause") == "billing"]
    assert snapshot["time"] == "2026-04-01T12:00:00+00:00"


def test_ecs48_turns_the_daily_block_reset_off_and_on() -> None:
    lab = build_lab()
    esme = lab.esme
    assert esme.meter.block_reset_schedule == DEFAULT_BLOCK_RESET
    stored = esme.cosem.values[(22, bytes(Obis("0-0:15.1.0.255")), 4)]
    assert decode_data(stored.encode()) == _schedule("00000000", "FFFFFFFFFF")  # reads back
    off = dlms_command(
        lab.supplier, esme, ECS48, set_(22, "0-0:15.1.0.255", 4, Array([])), critical=True
    )
    assert results(send(esme, off)) == [0]
    assert esme.meter.block_reset_schedule == ()
    esme.meter.billing_schedule = ()  # no end of billing period in the way either
    lab.advance(_dt.timedelta(days=2))
    esme.catch_up()
    assert sum(esme.meter.block_counter_wh) == esme.meter.import_wh > 0
    on = dlms_command(
        lab.supplier,
        esme,
        ECS48,
        set_(22, "0-0:15.1.0.255", 4, _schedule("06000000", "FFFFFFFFFF")),
        critical=True,
    )
    assert results(send(esme, on)) == [0]
    assert esme.meter.block_reset_schedule == (Execution(6 * 3600),)
    lab.advance(_dt.timedelta(days=1))
    esme.catch_up()
    assert esme.clock.now() == START + _dt.timedelta(days=3)  # 10:00: reset at 06:00
    assert sum(esme.meter.block_counter_wh) < esme.meter.import_wh


def test_a_bad_schedule_is_counted_not_applied() -> None:
    lab = build_lab()
    esme = lab.esme
    bad = _schedule("19000000", "FFFFFFFFFF")  # hour 25
    command = dlms_command(
        lab.supplier, esme, ECS48, set_(22, "0-0:15.1.0.255", 4, bad), critical=True
    )
    send(esme, command)
    assert esme.meter.block_reset_schedule == DEFAULT_BLOCK_RESET
    assert esme.dropped_settings == 1
