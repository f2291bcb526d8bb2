"""Scheduled service requests (5.1 Create, 5.2 Read, 5.3 Delete Schedule).

A schedule repeats one read service for one device from a first execution
time at a fixed interval. Each run is an ordinary request of category
"scheduled": checked for eligibility when it runs (the device may have changed
status since), timed from its execution time against 24 hours (SMETS2+).
Only read services (and 14.1 Record Network Data (GAS), which DUIS lists among
the schedulable ones) may be scheduled, and never critical ones: a run has no
user at hand to sign a pre-command. A schedule may end: it runs on its end date
(inclusive) and, once it has no run left, leaves the DCC's schedules.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Any

from emulator.clock import Timer
from emulator.gbcs.eui import Eui64
from hil.dcc.catalogue import Role, ServiceVariant
from hil.dcc.requests import ServiceRequest
from hil.dcc.timing import Category
from hil.dcc.users import User

_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(value: object) -> _dt.timedelta:
    """'30m', '1d', '24h', 3600 (seconds) or a timedelta; at least one minute."""
    if isinstance(value, _dt.timedelta):
        interval = value
    elif isinstance(value, int | float):
        interval = _dt.timedelta(seconds=float(value))
    elif isinstance(value, str) and (m := _INTERVAL.match(value)) is not None:
        interval = _dt.timedelta(seconds=int(m.group(1)) * _UNIT[m.group(2)])
    else:
        raise ValueError(f"schedule interval {value!r}: use e.g. '30m', '24h', '1d' or seconds")
    if interval < _dt.timedelta(minutes=1):
        raise ValueError(f"schedule interval {interval} is shorter than a minute")
    return interval


def parse_time(value: object) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        when = value
    elif isinstance(value, str):
        when = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        raise ValueError(f"not a date-time: {value!r}")
    if when.tzinfo is None:
        raise ValueError(f"date-time {value!r} needs a UTC offset (e.g. 2026-01-01T00:00:00Z)")
    return when


@dataclass(frozen=True)
class RelativeTime:
    """A time named relative to each run, as a DCC schedule names its read window
    (DUIS `ReadLogPeriodOffset`: a day offset from the run's day and a time of day):
    a fixed date-time would read the same window on every run."""

    days: int
    at: _dt.time

    def on(self, run_at: _dt.datetime) -> _dt.datetime:
        day = run_at.astimezone(_dt.UTC).date() + _dt.timedelta(days=self.days)
        at = self.at if self.at.tzinfo is not None else self.at.replace(tzinfo=_dt.UTC)
        return _dt.datetime.combine(day, at).astimezone(_dt.UTC)


def parse_time_of_day(text: str) -> _dt.time:
    """An xs:time ('00:00:00.00Z', '23:30:00'); UTC unless it names an offset."""
    try:
        at = _dt.time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a time of day: {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=_dt.UTC)


#: Schedulable although not named Read / Retrieve: DUIS 5.4's
#: `DSPScheduledServiceReferenceVariant` lists it.
SCHEDULABLE_OTHERS = frozenset({"14.1"})


#: Scheduled services that may carry the user's key agreement certificate (DUIS "URP
#: credentials"): those whose on-demand body is `ReadLogFutureDatableAndURPCredentials`.
URP_VARIANTS = frozenset({"4.6.1", "4.8.1", "4.10", "4.14", "4.17"})


def schedulable(service: ServiceVariant) -> bool:
    if service.non_device:
        return False
    return service.name.startswith(("Read", "Retrieve")) or service.variant in SCHEDULABLE_OTHERS


def parse_end_date(value: object) -> _dt.date | None:
    """A schedule's last day (DUIS `ScheduleEndDate`, an xs:date; a date-time names its
    UTC day); None: no end."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.astimezone(_dt.UTC).date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        text = value.strip().removesuffix("Z")
        try:
            if "T" in text:
                return parse_time(value.strip()).astimezone(_dt.UTC).date()
            return _dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"schedule end date {value!r}: use e.g. 2026-01-31")


@dataclass
class Schedule:
    schedule_id: str
    owner: User
    role: Role
    variant: str
    target: Eui64
    params: dict[str, Any]
    first: _dt.datetime
    every: _dt.timedelta
    created_by: str  # the 5.1 request id
    end: _dt.date | None = None  # the last day it runs on (UTC), inclusive
    runs: list[str] = field(default_factory=list)
    next_run: _dt.datetime | None = None
    timer: Timer | None = field(default=None, repr=False)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = None
        self.next_run = None

    def runs_at(self, when: _dt.datetime) -> bool:
        """Whether a run falls within the schedule: on or before its end date."""
        return self.end is None or when.astimezone(_dt.UTC).date() <= self.end

    def params_at(self, run_at: _dt.datetime) -> dict[str, Any]:
        """One run's parameters: each `RelativeTime` becomes that run's date-time."""
        return {
            name: value.on(run_at) if isinstance(value, RelativeTime) else value
            for name, value in self.params.items()
        }

    def as_request(self) -> ServiceRequest:
        """The runs' common shape, for rules that look at pending requests."""
        return ServiceRequest(
            self.schedule_id,
            self.variant,
            self.owner,
            self.role,
            self.target,
            self.params_at(self.first),
            Category.SCHEDULED,
            self.first,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "schedule_id": self.schedule_id,
            "variant": self.variant,
            "target": str(self.target),
            "user": self.owner.name,
            "role": self.role.value,
            "first": self.first.isoformat(),
            "every_s": int(self.every.total_seconds()),
            "end": None if self.end is None else self.end.isoformat(),
            "next_run": None if self.next_run is None else self.next_run.isoformat(),
            "runs": list(self.runs),
        }
