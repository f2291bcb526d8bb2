"""The GSME answers its two calendars apart: GCS21f reads the tariff calendar (ZSE
calendar type 0) with issuer calendar id 0xFFFFFFFF, GCS21b the friendly credit
(non-disablement, type 3) one with 0xFFFFFFFE, as in the reference commands; a read
answered from both sets would mix a friendly credit day profile into the tariff's."""

from __future__ import annotations

from typing import Any

from devices_support import build_lab, gbz_command, gbz_response, send, zcl
from test_gsme_friendly_credit import CALENDAR_ID, GCS05, _friendly_credit_calendar

from emulator.devices.zcl_model import CALENDAR
from emulator.gbcs.zcl.gbz import GbzComponent

GCS21b = 0x00B5
TARIFF, FRIENDLY = 0xFFFFFFFF, 0xFFFFFFFE
STATUS_NOT_FOUND = 0x8B


def _read(lab: Any, calendar_id: int, calendar_type: int) -> list[GbzComponent]:
    gets = [
        zcl(
            CALENDAR,
            1,
            {
                "provider_id": 0,
                "issuer_calendar_id": calendar_id,
                "start_day_id": 1,
                "number_of_days": 0,
            },
        ),
        zcl(
            CALENDAR,
            2,
            {
                "provider_id": 0,
                "issuer_calendar_id": calendar_id,
                "start_week_id": 1,
                "number_of_weeks": 0,
            },
        ),
        zcl(CALENDAR, 3, {"provider_id": 0, "issuer_calendar_id": calendar_id}),
        zcl(
            CALENDAR,
            4,
            {
                "start_time": 0,
                "number_of_events": 0,
                "calendar_type": calendar_type,
                "provider_id": 0,
                "issuer_calendar_id": calendar_id,
            },
        ),
    ]
    command = gbz_command(lab.supplier, lab.gsme, GCS21b, *gets)
    return gbz_response(send(lab.gsme, command)).components


def _shape(components: list[GbzComponent]) -> list[tuple[str, Any]]:
    shape: list[tuple[str, Any]] = []
    for c in components:
        f = c.frame.fields or {}
        detail: Any = f.get("status")
        if c.frame.name == "publish_day_profile":
            detail = (f["calendar_type"], len(f["schedule_entries"]))
        elif c.frame.name == "publish_special_days":
            detail = (f["calendar_type"], len(f["special_days"]))
        elif c.frame.name in ("publish_week_profile", "publish_seasons"):
            detail = f["issuer_calendar_id"] == CALENDAR_ID
        shape.append((c.frame.name, detail))
    return shape


def test_friendly_credit_calendar_is_not_found_before_gcs05() -> None:
    lab = build_lab()
    shape = _shape(_read(lab, FRIENDLY, 3))
    assert shape == [("default_response", STATUS_NOT_FOUND)] * 4


def test_tariff_and_friendly_credit_calendars_are_read_apart() -> None:
    lab = build_lab()
    gsme = lab.gsme
    tariff_before = _shape(_read(lab, TARIFF, 0))
    send(gsme, gbz_command(lab.supplier, gsme, GCS05, *_friendly_credit_calendar(), critical=True))
    # the tariff calendar (the factory's: 4 day profiles of one entry) is as it was
    assert _shape(_read(lab, TARIFF, 0)) == tariff_before
    assert ("publish_day_profile", (0, 1)) in tariff_before
    assert all(detail is not True for _, detail in tariff_before)
    # the friendly credit calendar alone: its 2 day profiles, week, seasons, special days
    assert _shape(_read(lab, FRIENDLY, 3)) == [
        ("publish_day_profile", (3, 3)),
        ("publish_day_profile", (3, 1)),
        ("publish_week_profile", True),
        ("publish_seasons", True),
        ("publish_special_days", (3, 2)),
    ]
    # and by its own issuer calendar id
    assert _shape(_read(lab, CALENDAR_ID, 3)) == _shape(_read(lab, FRIENDLY, 3))
