"""A match that consumes what it found (an alert seen) is acted on the first time.

A board under test with a set_clock hook made the wait look twice per tick: a match
that had just consumed its alert then answered False and the step failed with the alert
in hand (firmware scenarios against an external ESME).
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from emulator.clock import VirtualClock
from hil.scenario.runner import ScenarioContext, StepFailed


class _Lab:
    def __init__(self, hooked: bool) -> None:
        self.clock = VirtualClock(dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC))
        hooks = SimpleNamespace(set_clock="true" if hooked else None)
        self.externals = {"ESME": SimpleNamespace(hooks=hooks)}
        self.dcc = None

    async def run_for(self, seconds: float) -> None:
        self.clock.advance(seconds)


def _ctx(hooked: bool) -> Any:
    ctx: Any = SimpleNamespace(virtual=True, lab=_Lab(hooked), synced=0)

    async def sync() -> list[str]:
        ctx.synced += 1
        return []

    ctx._sync_clocks = sync
    return ctx


@pytest.mark.parametrize("hooked", [True, False])
async def test_a_consuming_match_ends_the_wait(hooked: bool) -> None:
    ctx = _ctx(hooked)
    arrived_after = ctx.lab.clock.now() + dt.timedelta(seconds=5)
    unseen = [1]

    def match() -> bool:
        if ctx.lab.clock.now() >= arrived_after and unseen:
            unseen.pop()  # seen: a second look finds nothing new
            return True
        return False

    await ScenarioContext._wait_until(ctx, match, 60, "no alert")
    assert not unseen
    assert ctx.lab.clock.now() < arrived_after + dt.timedelta(seconds=30)


async def test_a_match_that_never_comes_fails_after_within() -> None:
    ctx = _ctx(True)
    with pytest.raises(StepFailed, match="no alert within 60 s"):
        await ScenarioContext._wait_until(ctx, lambda: False, 60, "no alert")
    assert ctx.synced > 0
