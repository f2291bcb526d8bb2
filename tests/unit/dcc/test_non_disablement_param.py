"""2.1's `non_disablement` parameter: daily periods become ECS08 schedule entries."""

from __future__ import annotations

import datetime as _dt

import pytest

from emulator.gbcs.dlms.apdu import AccessRequest
from hil.dcc.commands import BuildContext, BuildError, build_command, non_disablement_entries
from hil.dcc.routes import route

CTX = BuildContext(now=_dt.datetime(2026, 1, 5, tzinfo=_dt.UTC), keystore=None)


def test_a_night_period_is_a_start_and_a_stop_every_day() -> None:
    entries = non_disablement_entries([{"start": "22:00", "end": "07:00"}])
    assert [(e[3], e[4], e[6]) for e in entries] == [
        (32, bytes((22, 0, 0, 0)), b"\xfe"),
        (33, bytes((7, 0, 0, 0)), b"\xfe"),
    ]
    weekend = non_disablement_entries([{"start": "00:00", "end": "09:30", "days": ["Saturday"]}])
    assert weekend[0][6] == b"\x04"


def test_the_command_carries_the_schedule() -> None:
    built = build_command(
        route("2.1", "ESME"),
        1,
        "90-B3-D5-1F-30-01-00-00",
        "00-DB-12-34-56-78-90-A0",
        {"non_disablement": [{"start": "22:00", "end": "07:00"}]},
        CTX,
    )
    assert isinstance(built.payload, AccessRequest)
    schedule = built.payload.data[3]
    assert len(schedule.items) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("periods", "problem"),
    [
        ([{"start": "25:00", "end": "07:00"}], "start '25:00' is not HH:MM"),
        ([{"start": "22:00", "end": "07:00", "days": ["Funday"]}], "not weekdays: Funday"),
        ([{"start": "22:00"}], "needs start and end"),
        ("22:00-07:00", "must be a list"),
    ],
)
def test_bad_periods_are_refused_naming_the_parameter(periods: object, problem: str) -> None:
    with pytest.raises(BuildError, match="non_disablement") as info:
        build_command(
            route("2.1", "ESME"),
            1,
            "90-B3-D5-1F-30-01-00-00",
            "00-DB-12-34-56-78-90-A0",
            {"non_disablement": periods},
            CTX,
        )
    assert problem in str(info.value)
