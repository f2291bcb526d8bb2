"""The ESME's prepayment use cases drive the metering engine (emulator/metering)."""

from __future__ import annotations

import datetime as _dt

import pytest
from devices_support import START, Lab, build_lab, results, send

from emulator.devices import prepay_bridge
from emulator.devices.base import DeviceType, Outbound
from emulator.devices.prepay_bridge import GENERIC_NON_CRITICAL_ALERT
from emulator.devices.zcl_device import ZclDevice
from emulator.gbcs.dlms.apdu import DataNotification, Obis
from emulator.gbcs.dlms.axdr import (
    Array,
    BitString,
    Boolean,
    LongUnsigned,
    OctetString,
    Structure,
    Unsigned,
)
from emulator.gbcs.frame import decode_message
from emulator.gbcs.payload import decode_message_payload
from emulator.metering import prepay

OTHER_REASON = 250


@pytest.fixture
def lab() -> Lab:
    lab = build_lab()
    lab.esme.catch_up()
    return lab


def test_emergency_credit_activates_only_when_offered(lab: Lab) -> None:
    esme = lab.esme
    assert results(send(esme, lab.supplier.command("2.5", esme.eui))) == [OTHER_REASON]
    esme.meter.configure({"prepayment": True, "balance": 50})
    assert results(send(esme, lab.supplier.command("2.5", esme.eui))) == [0]
    assert esme.meter.emergency_credit_active
    assert results(send(esme, lab.supplier.command("2.5", esme.eui))) == [0]  # already on


def test_payment_mode_changes_switch_the_engine(lab: Lab) -> None:
    esme = lab.esme
    assert results(send(esme, lab.supplier.command("1.6", esme.eui, option="prepayment")))[0] == 0
    assert esme.meter.prepayment
    send(esme, lab.supplier.command("1.6", esme.eui))  # ECS02: to credit
    assert not esme.meter.prepayment


def test_balance_adjustment_and_reset_are_money_in(lab: Lab) -> None:
    esme = lab.esme
    before = esme.meter.balance
    send(esme, lab.supplier.command("1.5", esme.eui, amount=1_234_000))  # millipence
    assert esme.meter.balance == before + 1234
    send(esme, lab.supplier.command("1.5", esme.eui, option="reset"))
    assert esme.meter.balance == 0
    assert esme.meter.ledger.money_in == -before and esme.meter.ledger.balanced


def test_manage_debt_sets_the_debt_registers_and_rates(lab: Lab) -> None:
    esme = lab.esme
    values = {
        "0.0.1": -3,  # price scale: 10^-3 GBP (tenths of a penny)
        "0.2": [(b"", 3)],  # time debt 1: 0.3p per period
        "1.0.1": -3,
        "1.2": [(b"", 15)],  # time debt 2: 1.5p per period
        "2": 1000,  # payment debt: 10% of each payment
        "3": 86_400,
        "4": 3600,
        "7": 500_000,  # debt amounts added, millipence
        "8": 300_000,
        "9": 150_000,
    }
    command = lab.supplier.command("2.3", esme.eui, values=values)
    assert set(results(send(esme, command))) == {0}
    time1, time2, payment = esme.meter.debts
    assert (time1.kind, time1.amount, time1.rate, time1.period) == (prepay.TIME, 300, 300, 86_400)
    assert (time2.kind, time2.amount, time2.rate, time2.period) == (prepay.TIME, 150, 1500, 3600)
    assert (payment.kind, payment.amount, payment.rate) == (prepay.PAYMENT, 500, 1000)


def test_prepayment_configuration_sets_the_thresholds(lab: Lab) -> None:
    esme = lab.esme
    config = esme.meter.config
    values = {  # money in millipence; the debt cap (4) in pence, its period (5) in seconds
        "1": 5_000_000,
        "2": 1_500_000,
        "4": 40,
        "5": 604_800,
        "6": 250_000,
        "7": 700_000,
        "9": 120_000,
    }
    command = lab.supplier.command("2.1", esme.eui, values=values)
    assert set(results(send(esme, command))) == {0}
    assert (config.max_meter_balance, config.max_credit) == (5000, 1500)
    assert (config.debt_cap, config.debt_cap_period) == (40, 604_800)
    assert (config.low_credit_threshold, config.emergency_credit_limit) == (250, 700)
    assert config.emergency_credit_threshold == 120


def test_low_credit_raises_an_alert_to_the_acb(lab: Lab) -> None:
    esme = lab.esme
    alerts: list[Outbound] = []
    esme.on_alert = alerts.append
    esme.meter.configure({"prepayment": True, "balance": 150, "low_credit_threshold": 100})
    lab.advance(_dt.timedelta(hours=6))  # 500 W at 20p/kWh: 10p an hour
    esme.catch_up()
    codes = []
    for out in alerts:
        assert out.message_code == GENERIC_NON_CRITICAL_ALERT
        body = decode_message_payload(decode_message(out.message)).tree
        assert isinstance(body, DataNotification) and isinstance(body.body, Structure)
        code = body.body.items[0]
        assert isinstance(code, LongUnsigned)
        codes.append(code.value)
    assert prepay.LOW_CREDIT in codes
    assert prepay.LOW_CREDIT in esme.event_log.codes()
    assert esme.clock.now() > START


def _nd_entry(index: int, selector: int, hour: int, minute: int, days: int) -> Structure:
    return Structure(
        [
            LongUnsigned(index),
            Boolean(True),
            OctetString(bytes.fromhex("00000A006AFF")),
            LongUnsigned(selector),
            OctetString(bytes([hour, minute, 0, 0])),
            LongUnsigned(0xFFFF),
            BitString(7, bytes([days << 1])),
            BitString(5, b"\x00"),
            OctetString(bytes.fromhex("FFFFFFFFFF")),
            OctetString(bytes.fromhex("FFFFFFFFFF")),
        ]
    )


def test_non_disablement_calendar_from_the_stored_schedule(lab: Lab) -> None:
    """ECS08: weekends 00:00-09:30 and from 22:00, every 29 July and 1 Jan 2027."""
    esme = lab.esme
    weekend = 0b0000011  # Monday first: Saturday and Sunday
    schedule = esme.model.get(10, bytes(Obis("0-1:12.0.1.255")))
    special = esme.model.get(11, bytes(Obis("0-1:11.0.2.255")))
    assert schedule is not None and special is not None
    entries = [
        _nd_entry(1, 32, 0, 0, weekend),
        _nd_entry(2, 33, 9, 30, weekend),
        _nd_entry(3, 32, 22, 0, weekend),
    ]
    esme.cosem.set(schedule, 2, Array(entries))
    days = [
        Structure([LongUnsigned(1), OctetString(bytes.fromhex("FFFF071DFF")), Unsigned(1)]),
        Structure([LongUnsigned(2), OctetString(bytes.fromhex("07EB0101FF")), Unsigned(1)]),
    ]
    esme.cosem.set(special, 2, Array(days))
    for activation in ("0-0:94.44.128.28", "0-0:94.44.128.31"):
        prepay_bridge.activate(esme, 9000, bytes(Obis(activation)))
    calendar = esme.meter.config.non_disablement
    saturday = _dt.datetime(2026, 3, 7, tzinfo=_dt.UTC)
    assert calendar.active(saturday + _dt.timedelta(hours=9, minutes=29))
    assert not calendar.active(saturday + _dt.timedelta(hours=9, minutes=30))
    assert calendar.active(saturday + _dt.timedelta(hours=23))
    assert not calendar.active(saturday - _dt.timedelta(hours=1))  # Friday 23:00
    assert calendar.active(_dt.datetime(2030, 7, 29, 12, tzinfo=_dt.UTC))
    assert calendar.active(_dt.datetime(2027, 1, 1, 12, tzinfo=_dt.UTC))
    assert not calendar.active(_dt.datetime(2028, 1, 1, 12, tzinfo=_dt.UTC))  # a Saturday noon


def test_activity_calendar_decides_the_tier_registers(lab: Lab) -> None:
    """An economy-7 calendar (tier 2 from 00:00 to 07:00) splits a day 7 h / 17 h."""
    esme = lab.esme
    calendar = esme.model.get(20, bytes(Obis("0-0:13.0.0.255")))
    assert calendar is not None

    def action(hour: int, tier: int) -> Structure:
        script = OctetString(bytes.fromhex("00000A0064FF"))
        return Structure([OctetString(bytes([hour, 0, 0, 0])), script, LongUnsigned(tier)])

    season_start = OctetString(bytes.fromhex("FFFF0101FF00000000800000"))
    esme.cosem.set(
        calendar, 3, Array([Structure([OctetString(b"S1"), season_start, OctetString(b"W")])])
    )
    esme.cosem.set(calendar, 4, Array([Structure([OctetString(b"W"), *[Unsigned(1)] * 7])]))
    day = Structure([Unsigned(1), Array([action(0, 2), action(7, 1)])])
    esme.cosem.set(calendar, 5, Array([day]))
    prepay_bridge.activate(esme, 20, bytes(Obis("0-0:13.0.0.255")))
    before = list(esme.meter.tier_wh[:2])
    midnight = _dt.datetime.combine(START.date(), _dt.time(), _dt.UTC) + _dt.timedelta(days=1)
    lab.advance(midnight - START)
    esme.catch_up()
    at_midnight = list(esme.meter.tier_wh[:2])
    lab.advance(_dt.timedelta(days=1))
    esme.catch_up()
    grown = [a - b for a, b in zip(esme.meter.tier_wh[:2], at_midnight, strict=True)]
    assert grown == [17 * 500, 7 * 500]  # 500 W
    assert at_midnight[1] == before[1]  # 10:00 to midnight is all tier 1


def test_gsme_published_price_matrix_prices_the_meter(lab: Lab) -> None:
    """GCS01: the factory calendar (weekends tier 2) with a published TOU matrix."""
    gsme = lab.premises.device(DeviceType.GSME)
    assert isinstance(gsme, ZclDevice)
    price_cluster = 0x0700
    info = dict(gsme.zcl.published[(price_cluster, "publish_tariff_information")][-1])
    info.update(price_trailing_digit=0x50, standing_charge=30_000)  # GBP, 5 decimals
    gsme._keep_published(price_cluster, "publish_tariff_information", info)
    matrix = {
        "sub_payload_control": 1,  # TOU
        "entries": [{"tier_block_id": 1, "price": 4123}, {"tier_block_id": 2, "price": 6000}],
    }
    gsme._keep_published(price_cluster, "publish_price_matrix", matrix)
    tariff = gsme.meter.primary.tariffs.active(gsme.clock.now())
    assert (tariff.tier_prices, tariff.standing_charge) == ((4123, 6000), 30_000)
    saturday = _dt.datetime(2026, 3, 7, 12, tzinfo=_dt.UTC)
    assert tariff.calendar.day_profile(saturday.date()).tier_at(600) == 2
    assert tariff.calendar.day_profile(START.date()).tier_at(600) == 1


def test_credit_exhausted_disables_and_a_top_up_arms_the_load_switch(lab: Lab) -> None:
    esme = lab.esme
    esme.meter.configure({"prepayment": True, "balance": 20, "emergency_credit_threshold": 0})
    lab.advance(_dt.timedelta(hours=3))  # 500 W at 20p/kWh: 10p an hour, plus standing charge
    esme.catch_up()
    assert not esme.meter.supply_enabled and not esme.armed
    assert prepay.SUPPLY_DISABLED in esme.event_log.codes()
    assert esme.meter.top_up(500) == 0
    esme.catch_up()
    assert esme.armed and not esme.meter.supply_enabled  # the consumer presses the button
