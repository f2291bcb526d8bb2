"""Single action schedules: the billing calendar and the daily block counter reset.

A DLMS single action schedule (class 22) lists execution times: a time of day
and a date pattern whose fields may be "any" (0xFF; 0xFFFF for the year). GBCS
uses two on the ESME: the billing calendar `0-0:15.0.0` (ECS30: the reference
sets 12:00 on day 1 of every month) and the tariff block counter matrix reset
`0-0:15.1.0` (ECS48: the reference sets 00:00 every day; an empty list turns the
daily reset off). The engine holds the parsed schedule and stops at each
execution, so a clock jump runs every due execution in order. Times are UTC,
like the daily logs (docs/metering.md, "Local time").
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from emulator.metering.money import MeteringError

ANY = -1
LAST_DAY = 0xFE  # DLMS day_of_month: the last day of the month
SECOND_LAST_DAY = 0xFD


@dataclass(frozen=True)
class Execution:
    """One execution time: `second` of the (UTC) day on dates matching the pattern."""

    second: int = 0
    year: int = ANY
    month: int = ANY
    day: int = ANY
    weekday: int = ANY  # 1 = Monday .. 7 = Sunday

    def __post_init__(self) -> None:
        if not 0 <= self.second < 86_400:
            raise MeteringError(f"execution second {self.second} is outside the day")
        if self.month != ANY and not 1 <= self.month <= 12:
            raise MeteringError(f"execution month {self.month} is not 1..12")
        if self.day not in (ANY, LAST_DAY, SECOND_LAST_DAY) and not 1 <= self.day <= 31:
            raise MeteringError(f"execution day {self.day} is not 1..31, 0xFD or 0xFE")
        if self.weekday != ANY and not 1 <= self.weekday <= 7:
            raise MeteringError(f"execution weekday {self.weekday} is not 1..7")

    def on(self, date: _dt.date) -> bool:
        if self.year != ANY and date.year != self.year:
            return False
        if self.month != ANY and date.month != self.month:
            return False
        if self.weekday != ANY and date.isoweekday() != self.weekday:
            return False
        if self.day in (LAST_DAY, SECOND_LAST_DAY):
            before_end = LAST_DAY - self.day  # days between `date` and the month's last
            last = date + _dt.timedelta(days=before_end)
            return last.month == date.month and (last + _dt.timedelta(days=1)).month != date.month
        return self.day == ANY or date.day == self.day

    def to_json(self) -> list[int]:
        return [self.second, self.year, self.month, self.day, self.weekday]

    @classmethod
    def from_json(cls, data: Any) -> Execution:
        second, year, month, day, weekday = (int(v) for v in data)
        return cls(second, year, month, day, weekday)

    def cosem_time(self) -> bytes:
        return bytes((self.second // 3600, self.second // 60 % 60, self.second % 60, 0))

    def cosem_date(self) -> bytes:
        year = 0xFFFF if self.year == ANY else self.year
        rest = (0xFF if v == ANY else v for v in (self.month, self.day, self.weekday))
        return year.to_bytes(2, "big") + bytes(rest)

    @classmethod
    def from_cosem(cls, time: bytes, date: bytes) -> Execution:
        """A class 22 execution_time entry: time (hour, minute, second, hundredths)
        and date (year high, year low, month, day, day of week); 0xFF is "any"."""
        if len(time) != 4 or len(date) != 5:
            raise MeteringError(f"execution time {time.hex()} / date {date.hex()}: wrong length")
        hour, minute, second = (0 if b == 0xFF else b for b in time[:3])
        year = int.from_bytes(date[:2], "big")
        return cls(
            hour * 3600 + minute * 60 + second,
            ANY if year == 0xFFFF else year,
            ANY if date[2] == 0xFF else date[2],
            ANY if date[3] == 0xFF else date[3],
            ANY if date[4] == 0xFF else date[4],
        )


def next_today(schedule: tuple[Execution, ...], after: _dt.datetime) -> _dt.datetime | None:
    """The first execution later than `after` on `after`'s (UTC) day, or None."""
    midnight = after.replace(hour=0, minute=0, second=0, microsecond=0)
    into = (after - midnight) // _dt.timedelta(seconds=1)
    date = after.date()
    seconds = [e.second for e in schedule if e.second > into and e.on(date)]
    return midnight + _dt.timedelta(seconds=min(seconds)) if seconds else None


def due(schedule: tuple[Execution, ...], at: _dt.datetime) -> bool:
    """True when an execution of `schedule` falls exactly on `at`."""
    into = at.hour * 3600 + at.minute * 60 + at.second
    date = at.date()
    return any(e.second == into and e.on(date) for e in schedule)


#: Units of a repeating period (`periodic`).
DAYS, WEEKS, MONTHS = "days", "weeks", "months"


def periodic(start: _dt.datetime, count: int, unit: str) -> tuple[Execution, ...]:
    """A period of `count` days, weeks or months repeating from `start`, as executions.

    Why a pattern and not "every n units from start": the engine holds one kind of
    schedule (the ESME's ECS30 single action schedule), so a GSME billing calendar
    (ZSE publish billing period, GCS25a) runs through the same code. What a date
    pattern can say is accepted: every day, every week (or 7 days), and every 1, 2,
    3, 4, 6 or 12 months on the start's day of the month; anything else is refused.
    A start after now is not waited for: the pattern runs from now.
    """
    second = start.hour * 3600 + start.minute * 60 + start.second
    if unit == DAYS and count == 7:
        unit, count = WEEKS, 1
    if unit == DAYS and count == 1:
        return (Execution(second),)
    if unit == WEEKS and count == 1:
        return (Execution(second, weekday=start.isoweekday()),)
    if unit == MONTHS and count == 1:
        return (Execution(second, day=start.day),)
    if unit == MONTHS and count > 0 and 12 % count == 0:
        months = sorted((start.month - 1 + k * count) % 12 + 1 for k in range(12 // count))
        return tuple(Execution(second, month=m, day=start.day) for m in months)
    raise MeteringError(f"a period of {count} {unit} is not a repeating date pattern")


#: As the engine always did: a billing snapshot at midnight on day 1, and the block
#: counters reset at every midnight (what ECS48's reference command configures).
DEFAULT_BILLING = (Execution(0, day=1),)
DEFAULT_BLOCK_RESET = (Execution(0),)
