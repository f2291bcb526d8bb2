"""Waiting for a request's result never loses a cancellation.

Python 3.11's `asyncio.wait_for` returns the result when the cancellation lands in
the loop turn the result does, and the cancelled caller carries on: a scenario step
stopped at its timeout, or a lab shutting down, would not stop
(docs/testing.md "Known hang").
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from hil.dcc.requests import RequestStatus, Result

#: Only a guard against a regression hanging the suite.
GUARD_S = 10.0


async def test_a_cancellation_arriving_with_the_result_is_not_lost() -> None:
    result = Result(request=cast(Any, None))
    waiting = asyncio.ensure_future(result.wait(30.0))
    for _ in range(3):
        await asyncio.sleep(0)
    result.finish(RequestStatus.COMPLETED, "I0")  # the answer and the cancellation together
    waiting.cancel()
    await asyncio.wait({waiting}, timeout=GUARD_S)
    assert waiting.cancelled(), "the waiter went on as if it had not been cancelled"


async def test_wait_still_times_out_and_returns() -> None:
    result = Result(request=cast(Any, None))
    try:
        await result.wait(0.01)
    except TimeoutError:
        pass
    else:
        raise AssertionError("no TimeoutError")
    result.finish(RequestStatus.COMPLETED, "I0")
    assert await result.wait(0.01) is result
