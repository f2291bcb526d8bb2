"""GSME and GPF: the GBZ server, snapshots, future-dated components, faults, wake-ups."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pytest
from devices_support import (
    START,
    Lab,
    build_lab,
    change_gas_supply,
    decrypted,
    gbz_command,
    gbz_response,
    last_security_code,
    party_sensitive_key,
    read_attributes,
    send,
    tree,
    zcl,
    zigbee,
)

from emulator.devices.anchors import AnchorRole
from emulator.devices.base import Device, Outbound
from emulator.devices.gsme import Gsme
from emulator.devices.zcl_device import STATUS_FAILURE, STATUS_HARDWARE_FAILURE
from emulator.devices.zcl_model import CALENDAR, METERING, PREPAYMENT, SENSITIVE_RESPONSES
from emulator.errors import MacError
from emulator.gbcs import crypto, utrn
from emulator.gbcs.frame import GbcsMessage, decode_message
from emulator.gbcs.payload import SENSITIVE_AAD
from emulator.gbcs.zcl.foundation import (
    STATUS_NOT_FOUND,
    STATUS_SUCCESS,
    STATUS_UNSUPPORTED_ATTRIBUTE,
)
from emulator.gbcs.zcl.gbz import (
    FutureDatedGbzOutcome,
    GbzAlert,
    GbzComponent,
    decode_zcl_payload,
)
from emulator.pki.keystore import KeyUsage

GCS01a, GCS05 = 0x006B, 0x006F  # critical: tariff, prepayment settings
GCS13a, GCS14 = 0x0074, 0x0075  # consumption / prepayment reads (sensitive)
GCS16a, GCS16b = 0x0077, 0x0096  # snapshots (sensitive)
GCS21b, GCS33 = 0x00B5, 0x0082  # non-sensitive reads
CS01b = 0x0097  # top up
DAY = _dt.timedelta(days=1)
MIDNIGHT_3 = _dt.datetime(2026, 3, 3, tzinfo=_dt.UTC)
MIDNIGHT_4 = _dt.datetime(2026, 3, 4, tzinfo=_dt.UTC)
MIDNIGHT_5 = _dt.datetime(2026, 3, 5, tzinfo=_dt.UTC)


@pytest.fixture
def lab() -> Lab:
    lab = build_lab()
    lab.gsme.catch_up()  # the meter starts metering at START
    lab.gpf.catch_up()
    return lab


def _fields(component: GbzComponent) -> dict[str, Any]:
    assert component.frame.fields is not None
    return component.frame.fields


def _plain(response: GbcsMessage, lab: Lab) -> list[GbzComponent]:
    """Components of a GBZ response, decrypted for the requester where encrypted."""
    payload = gbz_response(response)
    if any(c.encrypted for c in payload.components):
        decoded = decrypted(response, lab.verifier).tree
        assert not isinstance(decoded, GbcsMessage)
        return decoded.components  # type: ignore[union-attr]
    return payload.components


def _records(component: GbzComponent) -> dict[int, tuple[int, Any]]:
    assert component.frame.name == "read_attributes_response"
    return {
        r["attribute_id"]: (r["status"], r["value"].value if "value" in r else None)
        for r in _fields(component)["records"]
    }


def _read(lab: Lab, device: Device, code: int, cluster: int, *ids: int) -> dict[int, Any]:
    response = send(device, gbz_command(lab.supplier, device, code, read_attributes(cluster, *ids)))
    (component,) = _plain(response, lab)
    records = _records(component)
    assert all(status == STATUS_SUCCESS for status, _ in records.values()), records
    return {k: v for k, (_, v) in records.items()}


# -- read attributes ---------------------------------------------------------------------------


def test_consumption_read_is_live_and_encrypted(lab: Lab) -> None:
    gsme = lab.gsme
    lab.advance(_dt.timedelta(hours=3))
    response = send(gsme, lab.supplier.command("4.1.1-gas", gsme.eui))
    (component,) = gbz_response(response).components
    assert component.encrypted and component.frame.fields is None
    (plain,) = _plain(response, lab)
    values = {k: v for k, (_, v) in _records(plain).items()}
    assert values == {0x0302: 1000, 0x0301: 1, 0x0300: 1, 0x0000: 600}  # 200 W for 3 h
    lab.advance(_dt.timedelta(hours=1))
    assert _read(lab, gsme, GCS13a, METERING, 0x0000) == {0x0000: 800}


def test_sensitive_component_opens_only_with_the_requesters_key(lab: Lab) -> None:
    gsme = lab.gsme
    command = lab.supplier.command("4.1.1-gas", gsme.eui)
    (component,) = gbz_response(send(gsme, command)).components
    sealed = component.frame.encrypted
    assert sealed is not None
    iv = crypto.iv_for(gsme.eui, sealed.invocation_counter)

    def open_with(role: AnchorRole) -> bytes:
        key = party_sensitive_key(lab, role, gsme, command.counter)
        return crypto.decrypt(key, iv, SENSITIVE_AAD, sealed.ciphertext + sealed.tag)

    name, fields = decode_zcl_payload(
        METERING,
        component.frame.frame_control,
        component.frame.command_id,
        open_with(AnchorRole.SUPPLIER),
    )
    assert name == "read_attributes_response" and len(fields["records"]) == 4
    with pytest.raises(MacError):
        open_with(AnchorRole.NETWORK_OPERATOR)


def test_unknown_attribute_is_unsupported_without_failing_the_rest(lab: Lab) -> None:
    gsme = lab.gsme
    command = gbz_command(
        lab.supplier,
        gsme,
        GCS33,
        read_attributes(METERING, 0x9999, 0x0014),
        read_attributes(METERING, 0x0000),
    )
    first, second = _plain(send(gsme, command), lab)
    assert _records(first)[0x9999] == (STATUS_UNSUPPORTED_ATTRIBUTE, None)
    assert _records(first)[0x0014][0] == STATUS_SUCCESS
    assert _records(second)[0x0000][0] == STATUS_SUCCESS


def test_prepayment_credit_read(lab: Lab) -> None:
    assert _read(lab, lab.gsme, GCS14, PREPAYMENT, 0x0001) == {0x0001: 1000}


def test_change_supply_is_read_back(lab: Lab) -> None:
    gsme = lab.gsme
    answer = change_gas_supply(lab, 0x0081, 0)
    assert answer.frame.name == "supply_status_response"
    assert gsme.meter.supply_enabled is False
    assert _read(lab, gsme, GCS33, METERING, 0x0014) == {0x0014: 0}
    lab.advance(_dt.timedelta(hours=2))
    assert _read(lab, gsme, GCS13a, METERING, 0x0000) == {0x0000: 0}


# -- calendars ---------------------------------------------------------------------------------

CALENDAR_FIELDS = {
    "provider_id": 0,
    "issuer_event_id": 1,
    "issuer_calendar_id": 7,
    "start_time": 0,
    "calendar_type": 3,
    "calendar_time_reference": 0,
    "calendar_name": b"",
    "number_of_seasons": 1,
    "number_of_week_profiles": 1,
    "number_of_day_profiles": 1,
}
GET_CALENDAR = {
    "provider_id": 0,
    "earliest_start_time": 0,
    "min_issuer_event_id": 0,
    "number_of_calendars": 1,
    "calendar_type": 0xFF,
}
GET_DAYS = {
    "provider_id": 0,
    "issuer_calendar_id": 0xFFFFFFFF,  # the tariff calendar (0xFFFFFFFE: friendly credit)
    "start_day_id": 1,
    "number_of_days": 0,
}


def _day_profile(day_id: int, tiers: list[int]) -> dict[str, Any]:
    return {
        "provider_id": 0,
        "issuer_event_id": 2,
        "issuer_calendar_id": 7,
        "day_id": day_id,
        "total_number_of_schedule_entries": len(tiers),
        "command_index": 0,
        "total_number_of_commands": 1,
        "calendar_type": 0,  # a tariff calendar (the reference GCS01a); 3 is friendly credit
        "schedule_entries": [
            {"start_time": 60 * i, "tier_or_action": t} for i, t in enumerate(tiers)
        ],
    }


def _get(lab: Lab, cluster: int, command_id: int, fields: dict[str, Any]) -> list[GbzComponent]:
    command = gbz_command(lab.supplier, lab.gsme, GCS21b, zcl(cluster, command_id, fields))
    return gbz_response(send(lab.gsme, command)).components


def test_get_calendar_is_not_found_until_published(lab: Lab) -> None:
    (answer,) = _get(lab, CALENDAR, 0, GET_CALENDAR)
    assert answer.frame.name == "default_response"
    assert _fields(answer) == {"command_id": 0, "status": STATUS_NOT_FOUND}
    publish = zcl(CALENDAR, 0, CALENDAR_FIELDS, to_client=True)
    response = send(lab.gsme, gbz_command(lab.supplier, lab.gsme, GCS01a, publish, critical=True))
    (ack,) = gbz_response(response).components
    assert _fields(ack)["status"] == STATUS_SUCCESS
    (answer,) = _get(lab, CALENDAR, 0, GET_CALENDAR)
    assert answer.frame.name == "publish_calendar"
    assert _fields(answer)["issuer_calendar_id"] == 7


def test_factory_day_profiles(lab: Lab) -> None:
    answers = _get(lab, CALENDAR, 1, GET_DAYS)
    assert [_fields(a)["day_id"] for a in answers] == [1, 2, 3, 4]
    assert [a.last for a in answers] == [False, False, False, True]


def test_republished_day_profile_replaces_the_old_one(lab: Lab) -> None:
    publish = zcl(CALENDAR, 1, _day_profile(1, [1, 2]), to_client=True)
    send(lab.gsme, gbz_command(lab.supplier, lab.gsme, GCS01a, publish, critical=True))
    answers = _get(lab, CALENDAR, 1, GET_DAYS)
    day_one = [a for a in answers if _fields(a)["day_id"] == 1]
    assert len(day_one) == 1
    assert _fields(day_one[0])["total_number_of_schedule_entries"] == 2


# -- snapshots ---------------------------------------------------------------------------------


def _get_snapshot(
    lab: Lab, device: Device, start: _dt.datetime, end: _dt.datetime, offset: int = 0
) -> GbzComponent:
    fields = {
        "earliest_start_time": zigbee(start),
        "latest_end_time": zigbee(end),
        "snapshot_offset": offset,
        "snapshot_cause": 1,
    }
    response = send(device, gbz_command(lab.supplier, device, GCS16a, zcl(METERING, 6, fields)))
    (answer,) = _plain(response, lab)
    return answer


def _get_prepay_snapshot(
    lab: Lab, start: _dt.datetime, end: _dt.datetime, offset: int = 0
) -> GbzComponent:
    fields = {
        "earliest_start_time": zigbee(start),
        "latest_end_time": zigbee(end),
        "snapshot_offset": offset,
        "snapshot_cause": 1,
    }
    command = gbz_command(lab.supplier, lab.gsme, GCS16b, zcl(PREPAYMENT, 7, fields))
    (answer,) = _plain(send(lab.gsme, command), lab)
    return answer


def _step_days(lab: Lab, until: _dt.datetime) -> None:
    while lab.clock.now() < until:
        lab.advance(min(_dt.timedelta(hours=1), until - lab.clock.now()))
        lab.gsme.catch_up()


def test_snapshots_by_window_and_offset(lab: Lab) -> None:
    _step_days(lab, MIDNIGHT_5 + _dt.timedelta(minutes=1))
    latest = _get_snapshot(lab, lab.gsme, MIDNIGHT_3, MIDNIGHT_4)
    assert latest.frame.name == "publish_snapshot"
    fields = _fields(latest)
    assert fields["snapshot_time"] == zigbee(MIDNIGHT_4)
    assert fields["total_snapshots_found"] == 2
    # 200 W from 10:00 on the 2nd to midnight on the 4th: 38 h
    assert fields["snapshot_payload"]["current_summation_delivered"] == 200 * 38
    earlier = _fields(_get_snapshot(lab, lab.gsme, MIDNIGHT_3, MIDNIGHT_4, offset=1))
    assert earlier["snapshot_time"] == zigbee(MIDNIGHT_3)
    assert earlier["snapshot_payload"]["current_summation_delivered"] == 200 * 14
    beyond = _get_snapshot(lab, lab.gsme, MIDNIGHT_3, MIDNIGHT_4, offset=2)
    assert _fields(beyond) == {"command_id": 6, "status": STATUS_NOT_FOUND}
    before = _get_snapshot(lab, lab.gsme, START - DAY, START)
    assert _fields(before)["status"] == STATUS_NOT_FOUND


def test_snapshot_keeps_the_value_at_midnight_after_a_jump(lab: Lab) -> None:
    lab.advance(MIDNIGHT_5 - START)
    earlier = _fields(_get_snapshot(lab, lab.gsme, MIDNIGHT_3, MIDNIGHT_4, offset=1))
    assert earlier["snapshot_payload"]["current_summation_delivered"] == 200 * 14


def test_prepay_snapshot_follows_the_days_debt_collection(lab: Lab) -> None:
    _step_days(lab, MIDNIGHT_5 + _dt.timedelta(minutes=1))
    # a window ending at midnight does not yet hold that day's prepayment snapshot
    answer = _fields(_get_prepay_snapshot(lab, MIDNIGHT_3, MIDNIGHT_4))
    assert answer["total_snapshots_found"] == 1
    assert answer["snapshot_time"] == zigbee(MIDNIGHT_3) + 30
    assert answer["snapshot_payload"]["credit_remaining"] == 1000
    wider = _fields(_get_prepay_snapshot(lab, MIDNIGHT_3, MIDNIGHT_5 + _dt.timedelta(minutes=1)))
    assert wider["total_snapshots_found"] == 3
    missing = _get_prepay_snapshot(lab, START - DAY, START)
    assert _fields(missing)["status"] == STATUS_NOT_FOUND


def test_snapshot_responses_are_sensitive(lab: Lab) -> None:
    assert (METERING, "publish_snapshot") in SENSITIVE_RESPONSES[GCS16a]
    _step_days(lab, MIDNIGHT_3 + _dt.timedelta(minutes=1))
    fields = {
        "earliest_start_time": 0,
        "latest_end_time": 0xFFFFFFFF,
        "snapshot_offset": 0,
        "snapshot_cause": 1,
    }
    sensitive = send(
        lab.gsme, gbz_command(lab.supplier, lab.gsme, GCS16a, zcl(METERING, 6, fields))
    )
    assert gbz_response(sensitive).components[0].encrypted
    plain = send(lab.gsme, gbz_command(lab.supplier, lab.gsme, GCS21b, zcl(METERING, 6, fields)))
    (component,) = gbz_response(plain).components
    assert not component.encrypted and component.frame.name == "publish_snapshot"


# -- future-dated components -------------------------------------------------------------------


def _future_calendar(lab: Lab, at: _dt.datetime) -> GbcsMessage:
    component = zcl(CALENDAR, 0, CALENDAR_FIELDS, to_client=True, from_date_time=zigbee(at))
    command = gbz_command(lab.supplier, lab.gsme, GCS05, component, critical=True)
    (ack,) = gbz_response(send(lab.gsme, command)).components
    assert _fields(ack) == {"command_id": 0, "status": STATUS_SUCCESS}
    return command


def test_future_dated_component_runs_later_with_00cd_alert(lab: Lab) -> None:
    alerts: list[Outbound] = []
    lab.gsme.on_alert = alerts.append
    at = START + _dt.timedelta(hours=2)
    command = _future_calendar(lab, at)
    assert _get(lab, CALENDAR, 0, GET_CALENDAR)[0].frame.name == "default_response"
    lab.advance(_dt.timedelta(hours=1, minutes=59))
    assert alerts == []
    lab.advance(_dt.timedelta(minutes=1))
    assert [(a.kind, a.message_code, a.destination) for a in alerts] == [
        ("alert", 0x00CD, lab.supplier.party)
    ]
    alert = decode_message(alerts[0].message)
    assert lab.verifier.verify(alert).signature is True
    body = tree(alert)
    assert isinstance(body, GbzAlert)
    assert body.alert_code == 0x8F66 and body.timestamp == zigbee(at)
    assert body.body == FutureDatedGbzOutcome(GCS05, command.counter, CALENDAR, 0x09, 0)
    assert _get(lab, CALENDAR, 0, GET_CALENDAR)[0].frame.name == "publish_calendar"
    lab.advance(DAY)
    assert len(alerts) == 1


def test_cancellation_removes_the_pending_component(lab: Lab) -> None:
    alerts: list[Outbound] = []
    lab.gsme.on_alert = alerts.append
    _future_calendar(lab, START + _dt.timedelta(hours=2))
    cancel = zcl(CALENDAR, 0, CALENDAR_FIELDS, to_client=True, from_date_time=0xFFFFFFFF)
    send(lab.gsme, gbz_command(lab.supplier, lab.gsme, GCS05, cancel, critical=True))
    lab.advance(_dt.timedelta(hours=3))
    assert alerts == []
    assert _get(lab, CALENDAR, 0, GET_CALENDAR)[0].frame.name == "default_response"


# -- fault injection ---------------------------------------------------------------------------


def _three_publishes(lab: Lab) -> GbcsMessage:
    return gbz_command(
        lab.supplier,
        lab.gsme,
        GCS01a,
        zcl(CALENDAR, 0, {**CALENDAR_FIELDS, "issuer_calendar_id": 1}, to_client=True),
        zcl(CALENDAR, 0, {**CALENDAR_FIELDS, "issuer_calendar_id": 2}, to_client=True),
        zcl(CALENDAR, 0, {**CALENDAR_FIELDS, "issuer_calendar_id": 3}, to_client=True),
        critical=True,
    )


def test_failing_component_stops_the_rest(lab: Lab) -> None:
    lab.gsme.inject_fault({"kind": "gbz", "component": 1, "result": STATUS_HARDWARE_FAILURE})
    answers = gbz_response(send(lab.gsme, _three_publishes(lab))).components
    assert [_fields(a) for a in answers] == [
        {"command_id": 0, "status": STATUS_SUCCESS},
        {"command_id": 0, "status": STATUS_HARDWARE_FAILURE},
        {"command_id": 0xFF, "status": STATUS_FAILURE},
    ]
    assert [a.last for a in answers] == [False, False, True]
    held = lab.gsme.zcl.published[(CALENDAR, "publish_calendar")]
    assert [c["issuer_calendar_id"] for c in held] == [1]  # only the first one ran


def test_failing_attribute_fails_its_record_and_the_later_components(lab: Lab) -> None:
    gsme = lab.gsme
    gsme.inject_fault({"kind": "gbz", "component": 0, "attribute": 0x0000, "result": 0xC0})
    command = gbz_command(
        lab.supplier,
        gsme,
        GCS33,
        read_attributes(METERING, 0x0014, 0x0000),
        read_attributes(METERING, 0x0014),
    )
    first, second = gbz_response(send(gsme, command)).components
    assert _records(first) == {0x0014: (STATUS_SUCCESS, 2), 0x0000: (0xC0, None)}  # supply on
    assert _fields(second) == {"command_id": 0xFF, "status": STATUS_FAILURE}


# -- top-ups -----------------------------------------------------------------------------------


def _utrn(lab: Lab, counter: int, pence: int) -> str:
    supplier = lab.premises.parties[AnchorRole.SUPPLIER]
    device_key = lab.gsme.own_keys[KeyUsage.KEY_AGREEMENT].public_key()
    z = crypto.shared_secret(supplier.keys[KeyUsage.PREPAYMENT_KEY_AGREEMENT], device_key)
    return utrn.generate_utrn(z, supplier.eui, lab.gsme.eui, counter, pence)


def top_up(lab: Lab, gsme: Gsme, code: str) -> dict[str, Any]:
    component = zcl(PREPAYMENT, 4, {"originating_device": 0, "top_up_code": code.encode()})
    (answer,) = gbz_response(
        send(gsme, gbz_command(lab.supplier, gsme, CS01b, component))
    ).components
    assert answer.frame.name == "consumer_top_up_response"
    return _fields(answer)


def test_gas_top_up_credits_once(lab: Lab) -> None:
    gsme = lab.gsme
    code = _utrn(lab, 1 << 32, 500)
    first = top_up(lab, gsme, code)
    assert (first["result_type"], first["top_up_value"], first["credit_remaining"]) == (
        0,
        500,
        1500,
    )
    second = top_up(lab, gsme, code)
    # a duplicate: no value and no balance stated (0xFFFFFFFF, as the reference CS01b ERROR)
    assert (second["result_type"], second["top_up_value"], second["credit_remaining"]) == (
        2,
        -1,
        -1,
    )
    assert gsme.meter.balance == 1500
    assert last_security_code(gsme) == 0x8F51  # Duplicate UTRN entered


# -- wake-ups ----------------------------------------------------------------------------------


def test_gsme_wakes_every_half_hour_for_ten_seconds(lab: Lab) -> None:
    gsme = lab.gsme
    at = START.replace(hour=10, minute=0)
    assert gsme.next_wake(at) == at + _dt.timedelta(minutes=30)
    assert gsme.next_wake(at - _dt.timedelta(seconds=1)) == at
    assert gsme.next_wake(at.replace(hour=23, minute=45)) == MIDNIGHT_3
    assert gsme.is_awake(at) and gsme.is_awake(at + _dt.timedelta(seconds=9))
    assert not gsme.is_awake(at + _dt.timedelta(seconds=10))
    assert not gsme.is_awake(at - _dt.timedelta(seconds=1))


def test_wake_interval_is_configurable(lab: Lab) -> None:
    gsme = Gsme("00-DB-12-34-56-78-90-C1", lab.clock, wake_interval=_dt.timedelta(minutes=15))
    assert gsme.next_wake(START) == START + _dt.timedelta(minutes=15)
    assert gsme.is_awake(START + _dt.timedelta(minutes=45))


def test_next_wake_agrees_with_is_awake() -> None:
    gsme = Gsme(
        "00-DB-12-34-56-78-90-C1", build_lab().clock, wake_interval=_dt.timedelta(minutes=7)
    )
    after = _dt.datetime(2026, 3, 2, 23, 58, tzinfo=_dt.UTC)
    assert gsme.is_awake(MIDNIGHT_3)
    assert gsme.next_wake(after) == MIDNIGHT_3


# -- GPF ---------------------------------------------------------------------------------------


def test_gpf_answers_from_the_mirror(lab: Lab) -> None:
    gsme, gpf = lab.gsme, lab.gpf
    lab.advance(_dt.timedelta(hours=2))
    gpf.sync(gsme.mirror())
    assert gpf.syncs == 1
    assert _read(lab, gpf, GCS13a, METERING, 0x0000, 0x0302) == {0x0000: 400, 0x0302: 1000}
    lab.advance(_dt.timedelta(hours=2))
    assert _read(lab, gpf, GCS13a, METERING, 0x0000) == {0x0000: 400}  # until the next wake
    gsme.meter.balance = 321.0
    gpf.sync(gsme.mirror())
    assert _read(lab, gpf, GCS13a, METERING, 0x0000) == {0x0000: 800}
    assert _read(lab, gpf, GCS14, PREPAYMENT, 0x0001) == {0x0001: 321}


def test_gpf_without_a_mirror_reports_no_consumption(lab: Lab) -> None:
    lab.advance(_dt.timedelta(hours=2))
    assert _read(lab, lab.gpf, GCS13a, METERING, 0x0000) == {0x0000: 0}


def test_gpf_responses_are_encrypted_for_the_requester(lab: Lab) -> None:
    lab.gpf.sync(lab.gsme.mirror())
    response = send(lab.gpf, lab.supplier.command("4.1.1-gas", lab.gpf.eui))
    assert response.originator == lab.gpf.eui
    assert gbz_response(response).components[0].encrypted
    assert decrypted(response, lab.verifier).fully_decrypted
