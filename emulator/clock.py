"""Time for devices and the harness: real or virtual, always injected.

Device code never calls time.time() or datetime.now(); it asks its `Clock`. The
virtual clock lets CI run a day of meter life (half-hour profiles, daily logs,
gas wake-ups, future-dated commands) in seconds: `advance()` moves time and runs
every timer that falls due, in order.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

#: ZigBee time starts at 2000-01-01 00:00:00 UTC.
ZIGBEE_EPOCH = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)


class Clock(Protocol):
    def now(self) -> _dt.datetime:
        """Current UTC time (aware)."""
        ...

    def monotonic(self) -> float:
        """Seconds for measuring intervals (response times)."""
        ...

    def call_at(self, when: _dt.datetime, callback: Callable[[], None]) -> Timer: ...

    async def sleep(self, seconds: float) -> None: ...


@dataclass(order=True, slots=True)
class Timer:
    when: _dt.datetime
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)
    handle: asyncio.TimerHandle | None = field(default=None, compare=False)

    def cancel(self) -> None:
        self.cancelled = True
        if self.handle is not None:
            self.handle.cancel()


class RealClock:
    """Wall-clock time; timers run on the running asyncio loop."""

    def __init__(self) -> None:
        self._seq = itertools.count()

    def now(self) -> _dt.datetime:
        return _dt.datetime.now(_dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def call_at(self, when: _dt.datetime, callback: Callable[[], None]) -> Timer:
        timer = Timer(when, next(self._seq), callback)
        delay = max(0.0, (when - self.now()).total_seconds())
        timer.handle = asyncio.get_running_loop().call_later(delay, callback)
        return timer

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class VirtualClock:
    """Time that moves only when told; timers fire in time order during `advance`."""

    def __init__(self, start: _dt.datetime | None = None) -> None:
        self._now = start or _dt.datetime(2026, 1, 1, tzinfo=_dt.UTC)
        if self._now.tzinfo is None:
            raise ValueError("virtual clock start must be timezone-aware (UTC)")
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._mono = 0.0

    def now(self) -> _dt.datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def call_at(self, when: _dt.datetime, callback: Callable[[], None]) -> Timer:
        timer = Timer(max(when, self._now), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def advance(self, seconds: float) -> int:
        """Move time forward, running due timers in order; returns how many ran."""
        target = self._now + _dt.timedelta(seconds=seconds)
        ran = 0
        while self._timers and self._timers[0].when <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._mono += (timer.when - self._now).total_seconds()
            self._now = timer.when
            timer.callback()
            ran += 1
        self._mono += (target - self._now).total_seconds()
        self._now = target
        return ran

    def set(self, when: _dt.datetime) -> int:
        return self.advance((when - self._now).total_seconds())

    async def sleep(self, seconds: float) -> None:
        """Advance virtual time instead of waiting (single-task simulations)."""
        self.advance(seconds)
        await asyncio.sleep(0)

    def next_due(self) -> _dt.datetime | None:
        """When the earliest live timer falls due (None without timers)."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].when if self._timers else None

    @property
    def pending(self) -> int:
        return sum(1 for t in self._timers if not t.cancelled)


def stopwatch(clock: Clock) -> Callable[[], float]:
    """Seconds for measuring response times against `clock`.

    With a virtual clock, time only moves when a test advances it, yet signing,
    routing and link transfers still take real time; a response-time figure
    must include both, so the reading is the virtual clock's seconds plus the
    process's real seconds. With a real clock it is just the monotonic clock.
    """
    if isinstance(clock, VirtualClock):
        return lambda: clock.monotonic() + time.perf_counter()
    return clock.monotonic


def to_zigbee_time(value: _dt.datetime) -> int:
    return int((value - ZIGBEE_EPOCH).total_seconds())


def from_zigbee_time(seconds: int) -> _dt.datetime:
    return ZIGBEE_EPOCH + _dt.timedelta(seconds=seconds)
