"""Shutdowns end within a bound even when a task survives its first cancellation."""

from __future__ import annotations

import asyncio

import pytest

from emulator.tasks import cancel_and_wait


async def _swallows(times: int, stop: asyncio.Event | None = None) -> None:
    """A loop that loses `times` cancellations (as 3.11's wait_for can), then ends;
    or ends when `stop` is set."""
    lost = 0
    while stop is None or not stop.is_set():
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            lost += 1
            if lost > times:
                raise


async def test_a_task_that_swallows_a_cancellation_still_ends() -> None:
    task = asyncio.ensure_future(_swallows(1))
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], within=2.0) == []
    assert task.cancelled()


async def test_a_task_that_never_ends_is_named_and_left(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    task = asyncio.ensure_future(_swallows(10**9, stop))
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], within=0.2) == [task]
    assert "did not end" in caplog.text
    stop.set()
    await task


async def test_a_failed_task_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.ensure_future(fails())
    await asyncio.sleep(0)
    assert await cancel_and_wait([task]) == []
    assert "boom" in caplog.text
