"""Tariff and non-disablement calendars: which tier applies at a given time.

The device clock runs in UTC; the calendars are read in GB local time (UTC,
plus one hour of British Summer Time from 01:00 UTC on the last Sunday of March
to 01:00 UTC on the last Sunday of October: `gb_utc_offset`), so a tier switch
or a non-disablement period written for 07:00 starts at 07:00 on the
consumer's clock all year; see docs/metering.md. A day profile
switches tier at given minutes of the day; a week profile names a day profile
for Monday..Sunday; seasons start on a month and day and name a week profile;
special days (dates) override the week. This is the structure of the GBCS
activity calendar (DLMS class 20) and the DUIS TOU calendar.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import functools
from dataclasses import dataclass, field
from typing import Any

from emulator.metering.money import MeteringError

MINUTES_PER_DAY = 1440
TIERS = 48
BST = _dt.timedelta(hours=1)
NO_OFFSET = _dt.timedelta(0)


@functools.cache
def _last_sunday_0100(year: int, month: int) -> _dt.datetime:
    """01:00 UTC on the last Sunday of `month` (March or October): the GB change."""
    last = _dt.datetime(year, month, 31, 1, tzinfo=_dt.UTC)
    return last - _dt.timedelta(days=(last.weekday() + 1) % 7)


def gb_utc_offset(at: _dt.datetime) -> _dt.timedelta:
    """GB local time minus UTC at `at` (a UTC time; naive is taken as UTC)."""
    utc = at if at.tzinfo is not None else at.replace(tzinfo=_dt.UTC)
    start, end = _last_sunday_0100(utc.year, 3), _last_sunday_0100(utc.year, 10)
    return BST if start <= utc < end else NO_OFFSET


def gb_next_change(after: _dt.datetime) -> _dt.datetime:
    """The first GB clock change strictly after `after`, in `after`'s tzinfo."""
    utc = after if after.tzinfo is not None else after.replace(tzinfo=_dt.UTC)
    for year in (utc.year, utc.year + 1):
        for month in (3, 10):
            change = _last_sunday_0100(year, month)
            if change > utc:
                return change if after.tzinfo is not None else change.replace(tzinfo=None)
    raise AssertionError("unreachable: a change every year")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class DayProfile:
    """Tier switches as (minute of day, tier 1..48), sorted, the first at minute 0."""

    switches: tuple[tuple[int, int], ...] = ((0, 1),)

    def __post_init__(self) -> None:
        minutes = [m for m, _ in self.switches]
        if not self.switches or minutes[0] != 0 or minutes != sorted(set(minutes)):
            raise MeteringError("a day profile needs sorted, distinct switch minutes from 0")
        if not all(0 <= m < MINUTES_PER_DAY and 1 <= t <= TIERS for m, t in self.switches):
            raise MeteringError(f"switch minutes are 0..1439 and tiers 1..{TIERS}")

    def tier_at(self, minute: int) -> int:
        i = bisect.bisect_right([m for m, _ in self.switches], minute) - 1
        return self.switches[i][1]

    def minutes(self) -> tuple[int, ...]:
        return tuple(m for m, _ in self.switches)


@dataclass(frozen=True, slots=True)
class TouCalendar:
    """Day, week and season profiles plus special days (date -> day profile id)."""

    days: dict[int, DayProfile] = field(default_factory=lambda: {1: DayProfile()})
    weeks: dict[int, tuple[int, ...]] = field(default_factory=lambda: {1: (1,) * 7})
    #: (month, day, week id), sorted; the last season of the year runs into the next.
    seasons: tuple[tuple[int, int, int], ...] = ((1, 1, 1),)
    special_days: dict[_dt.date, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.seasons or list(self.seasons) != sorted(self.seasons):
            raise MeteringError("seasons must be given sorted by start (month, day)")
        for _, _, week in self.seasons:
            if week not in self.weeks:
                raise MeteringError(f"season names unknown week profile {week}")
        for week, ids in self.weeks.items():
            if len(ids) != 7 or any(d not in self.days for d in ids):
                raise MeteringError(f"week profile {week} needs 7 known day profiles")
        if any(d not in self.days for d in self.special_days.values()):
            raise MeteringError("a special day names an unknown day profile")

    def day_profile(self, date: _dt.date) -> DayProfile:
        special = self.special_days.get(date)
        if special is not None:
            return self.days[special]
        key = (date.month, date.day)
        week = self.seasons[-1][2]
        for month, day, week_id in self.seasons:
            if (month, day) <= key:
                week = week_id
        return self.days[self.weeks[week][date.weekday()]]

    def to_json(self) -> dict[str, Any]:
        return {
            "days": {str(k): [list(s) for s in v.switches] for k, v in self.days.items()},
            "weeks": {str(k): list(v) for k, v in self.weeks.items()},
            "seasons": [list(s) for s in self.seasons],
            "special_days": {d.isoformat(): v for d, v in self.special_days.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TouCalendar:
        return cls(
            days={
                int(k): DayProfile(tuple((int(m), int(t)) for m, t in v))
                for k, v in data["days"].items()
            },
            weeks={int(k): tuple(int(d) for d in v) for k, v in data["weeks"].items()},
            seasons=tuple((int(m), int(d), int(w)) for m, d, w in data["seasons"]),
            special_days={
                _dt.date.fromisoformat(k): int(v) for k, v in data.get("special_days", {}).items()
            },
        )


@dataclass(frozen=True, slots=True)
class NonDisablementCalendar:
    """When the supply must not be disabled for lack of credit.

    Periods are (weekdays 0=Monday..6, start minute, end minute) with end after
    start inside one day; special days (dates, or (month, day) every year) are
    protected all day.
    """

    periods: tuple[tuple[frozenset[int], int, int], ...] = ()
    special_days: frozenset[_dt.date] = frozenset()
    recurring: frozenset[tuple[int, int]] = frozenset()

    def __post_init__(self) -> None:
        for days, start, end in self.periods:
            if not (0 <= start < end <= MINUTES_PER_DAY) or not days <= set(range(7)):
                raise MeteringError(
                    "a non-disablement period is weekdays 0..6 and 0 <= start < end <= 1440"
                )

    def active(self, at: _dt.datetime) -> bool:
        if at.date() in self.special_days or (at.month, at.day) in self.recurring:
            return True
        minute = at.hour * 60 + at.minute
        weekday = at.weekday()
        return any(weekday in d and s <= minute < e for d, s, e in self.periods)

    def edges(self) -> tuple[int, ...]:
        """Minutes of the day at which protection can start or end."""
        return tuple(sorted({m for _, s, e in self.periods for m in (s, e) if m < MINUTES_PER_DAY}))

    def to_json(self) -> dict[str, Any]:
        return {
            "periods": [[sorted(d), s, e] for d, s, e in self.periods],
            "special_days": sorted(d.isoformat() for d in self.special_days),
            "recurring": sorted([m, d] for m, d in self.recurring),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NonDisablementCalendar:
        return cls(
            periods=tuple(
                (frozenset(int(x) for x in d), int(s), int(e))
                for d, s, e in data.get("periods", [])
            ),
            special_days=frozenset(_dt.date.fromisoformat(d) for d in data.get("special_days", [])),
            recurring=frozenset((int(m), int(d)) for m, d in data.get("recurring", [])),
        )
