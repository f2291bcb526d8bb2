"""SMETS2's non-disablement calendar reaches the GSME as a ZSE friendly credit
calendar (calendar type 3, as in the reference GCS05): it becomes the engine's
non-disablement calendar, and it is not the tariff's calendar (a friendly credit day
profile 1 does not replace the tariff's day profile 1)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from devices_support import START, build_lab, gbz_command, gbz_response, send, zcl

from emulator.devices.prepay_bridge import zcl_calendar
from emulator.devices.zcl_model import CALENDAR

GCS05 = 0x006F
FRIENDLY, CALENDAR_ID = 3, 9
BASE = {"provider_id": 0, "issuer_event_id": 1, "issuer_calendar_id": CALENDAR_ID}


def _day(day_id: int, entries: list[tuple[int, int]]) -> dict[str, Any]:
    return {
        **BASE,
        "day_id": day_id,
        "total_number_of_schedule_entries": len(entries),
        "command_index": 0,
        "total_number_of_commands": 1,
        "calendar_type": FRIENDLY,
        "schedule_entries": [{"start_time": m, "tier_or_action": a} for m, a in entries],
    }


def _friendly_credit_calendar() -> list[Any]:
    """Weekdays: friendly credit 00:00-08:00 and 18:00-24:00; weekends and 1 January
    (every year): all day; 25 December: as a weekday."""
    calendar = {
        **BASE,
        "start_time": 0,
        "calendar_type": FRIENDLY,
        "calendar_time_reference": 0,
        "calendar_name": b"",
        "number_of_seasons": 1,
        "number_of_week_profiles": 1,
        "number_of_day_profiles": 2,
    }
    week = {
        **BASE,
        "week_id": 1,
        **{f"day_id_{d}": 1 for d in ("monday", "tuesday", "wednesday", "thursday", "friday")},
        "day_id_saturday": 3,
        "day_id_sunday": 3,
    }
    seasons = {
        **BASE,
        "command_index": 0,
        "total_number_of_commands": 1,
        "seasons": [
            {
                "season_start_date": {"year": 2014, "month": 10, "day": 27, "weekday": 0xFF},
                "week_id": 1,
            }
        ],
    }
    special = {
        **BASE,
        "start_time": 0,
        "calendar_type": FRIENDLY,
        "total_number_of_special_days": 2,
        "command_index": 0,
        "total_number_of_commands": 1,
        "special_days": [
            {
                "special_day_date": {"year": 0xFF, "month": 1, "day": 1, "weekday": 0xFF},
                "day_id": 3,
            },
            {
                "special_day_date": {"year": 0xFF, "month": 12, "day": 25, "weekday": 0xFF},
                "day_id": 1,
            },
        ],
    }
    return [
        zcl(CALENDAR, 0, calendar, to_client=True),
        zcl(CALENDAR, 1, _day(1, [(0, 1), (480, 0), (1080, 1)]), to_client=True),
        zcl(CALENDAR, 1, _day(3, [(0, 1)]), to_client=True),
        zcl(CALENDAR, 2, week, to_client=True),
        zcl(CALENDAR, 3, seasons, to_client=True),
        zcl(CALENDAR, 4, special, to_client=True),
    ]


def test_friendly_credit_is_the_non_disablement_calendar() -> None:
    lab = build_lab()  # Monday 2 March 2026, 10:00 (GMT)
    gsme = lab.gsme
    tariff_calendar = zcl_calendar(gsme.zcl.published)
    command = gbz_command(lab.supplier, gsme, GCS05, *_friendly_credit_calendar(), critical=True)
    statuses = [c.frame.fields["status"] for c in gbz_response(send(gsme, command)).components]
    assert statuses == [0] * 6
    assert zcl_calendar(gsme.zcl.published) == tariff_calendar  # the tariff's is untouched
    nd = gsme.meter.config.non_disablement
    monday = START.replace(tzinfo=None)
    assert nd.active(monday.replace(hour=7)) and not nd.active(monday.replace(hour=12))
    assert nd.active(monday.replace(hour=19)) and nd.active(monday + _dt.timedelta(days=5))
    assert nd.recurring == {(1, 1)}  # 25 December's day profile is not friendly all day


def test_no_disablement_in_friendly_credit_until_it_ends() -> None:
    lab = build_lab()
    gsme = lab.gsme
    gsme.catch_up()
    send(gsme, gbz_command(lab.supplier, gsme, GCS05, *_friendly_credit_calendar(), critical=True))
    meter = gsme.meter
    meter.configure({"prepayment": True})
    lab.advance(_dt.timedelta(hours=9))  # Monday 19:00: friendly credit
    gsme.catch_up()
    meter.balance = 0  # credit exhausted
    gsme.catch_up()
    assert meter.supply_enabled
    lab.advance(_dt.timedelta(hours=12, minutes=59))  # Tuesday 07:59
    gsme.catch_up()
    assert meter.supply_enabled
    lab.advance(_dt.timedelta(minutes=2))  # friendly credit ended at 08:00
    gsme.catch_up()
    assert not meter.supply_enabled
