"""Issue 10: a calendar the GSME is published (GCS01a: Publish Calendar, then its day
and week profiles, seasons and special days) replaces the earlier tariff calendar when
it takes effect, so the tariff follows only the calendar in force; the friendly credit
calendar (GCS05) is another calendar and stays."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from devices_support import START, build_lab, gbz_command, gbz_response, send, zcl, zigbee
from test_gsme_friendly_credit import GCS05, _friendly_credit_calendar

from emulator.devices.gsme import Gsme
from emulator.devices.prepay_bridge import zcl_calendar
from emulator.devices.zcl_model import CALENDAR, PRICE
from emulator.metering import DayProfile

GCS01A = 0x006B
BASE = {"provider_id": 0, "issuer_event_id": 2, "issuer_calendar_id": 0}


def _tariff_calendar(
    days: dict[int, int], special: tuple[int, int, int, int], from_date_time: int | None = None
) -> list[Any]:
    """A GCS01a calendar (as the reference: type 0, issuer calendar id 0): day profile
    n is tier `days[n]` all day, week 1 is day 1 on weekdays and the last day at
    weekends, one season from 2014, one special day (year, month, day, day id)."""
    last = max(days)
    parts: list[dict[str, Any]] = [
        {
            **BASE,
            "start_time": 0,
            "calendar_type": 0,
            "calendar_time_reference": 0,
            "calendar_name": b"",
            "number_of_seasons": 1,
            "number_of_week_profiles": 1,
            "number_of_day_profiles": len(days),
        }
    ]
    parts += [
        {
            **BASE,
            "day_id": day,
            "total_number_of_schedule_entries": 1,
            "command_index": 0,
            "total_number_of_commands": 1,
            "calendar_type": 0,
            "schedule_entries": [{"start_time": 0, "tier_or_action": tier}],
        }
        for day, tier in days.items()
    ]
    weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday")
    parts.append(
        {
            **BASE,
            "week_id": 1,
            **{f"day_id_{d}": 1 for d in weekdays},
            "day_id_saturday": last,
            "day_id_sunday": last,
        }
    )
    parts.append(
        {
            **BASE,
            "command_index": 0,
            "total_number_of_commands": 1,
            "seasons": [
                {
                    "season_start_date": {"year": 2014, "month": 1, "day": 1, "weekday": 0xFF},
                    "week_id": 1,
                }
            ],
        }
    )
    year, month, day, day_id = special
    parts.append(
        {
            **BASE,
            "start_time": 0,
            "calendar_type": 0,
            "total_number_of_special_days": 1,
            "command_index": 0,
            "total_number_of_commands": 1,
            "special_days": [
                {
                    "special_day_date": {"year": year, "month": month, "day": day, "weekday": 0xFF},
                    "day_id": day_id,
                }
            ],
        }
    )
    matrix = {
        "provider_id": 0,
        "issuer_event_id": 2,
        "start_time": 0,
        "issuer_tariff_id": 0,
        "command_index": 0,
        "number_of_commands": 1,
        "sub_payload_control": 1,  # TOU prices
        "entries": [{"tier_block_id": t, "price": 100 * t} for t in range(1, 7)],
    }
    return [
        *(
            zcl(CALENDAR, command, fields, to_client=True, from_date_time=from_date_time)
            for command, fields in zip((0, *[1] * len(days), 2, 3, 4), parts, strict=True)
        ),
        zcl(PRICE, 5, matrix, to_client=True, from_date_time=from_date_time),
    ]


def _publish(gsme: Gsme, lab: Any, code: int, parts: list[Any]) -> None:
    command = gbz_command(lab.supplier, gsme, code, *parts, critical=True)
    statuses = [c.frame.fields["status"] for c in gbz_response(send(gsme, command)).components]
    assert statuses == [0] * len(parts)


def test_a_published_calendar_replaces_the_factory_one() -> None:
    lab = build_lab()
    gsme = lab.gsme
    before = zcl_calendar(gsme.zcl.published)
    assert before is not None and 4 in before.days  # the factory's day 4
    _publish(gsme, lab, GCS01A, _tariff_calendar({1: 2, 2: 3}, (2026, 4, 6, 2)))
    calendar = zcl_calendar(gsme.zcl.published)
    assert calendar is not None
    assert calendar.days == {1: DayProfile(((0, 2),)), 2: DayProfile(((0, 3),))}
    assert calendar.special_days == {_dt.date(2026, 4, 6): 2}  # 2014-12-25 is gone
    assert calendar.seasons == ((1, 1, 1),)
    gsme.catch_up()
    priced = gsme.meter.primary.tariffs.active(gsme.clock.now())
    assert priced.tier_prices[:3] == (100, 200, 300)  # the factory 5 decimals: millipence
    assert priced.calendar == calendar  # the tariff follows the new calendar only


def test_a_future_dated_calendar_replaces_at_its_time_and_friendly_credit_stays() -> None:
    lab = build_lab()
    gsme = lab.gsme
    _publish(gsme, lab, GCS05, _friendly_credit_calendar())
    friendly = gsme.meter.config.non_disablement
    _publish(gsme, lab, GCS01A, _tariff_calendar({1: 2, 2: 3, 3: 4}, (2026, 4, 6, 3)))
    at = START + _dt.timedelta(days=1)
    later = _tariff_calendar({1: 5, 2: 6}, (2026, 5, 4, 2), from_date_time=zigbee(at))
    _publish(gsme, lab, GCS01A, later)
    held = zcl_calendar(gsme.zcl.published)
    assert held is not None and set(held.days) == {1, 2, 3}  # not yet in force
    lab.advance(_dt.timedelta(days=1, minutes=1))
    gsme.catch_up()
    calendar = zcl_calendar(gsme.zcl.published)
    assert calendar is not None
    assert calendar.days == {1: DayProfile(((0, 5),)), 2: DayProfile(((0, 6),))}
    assert calendar.special_days == {_dt.date(2026, 5, 4): 2}
    assert gsme.meter.primary.tariffs.active(gsme.clock.now()).calendar == calendar
    # the friendly credit calendar's members are all still held, and still in force
    kept = gsme.zcl.published[(CALENDAR, "publish_day_profile")]
    assert sorted(d["day_id"] for d in kept if d.get("calendar_type") == 3) == [1, 3]
    assert gsme.meter.config.non_disablement == friendly
