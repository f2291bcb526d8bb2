"""Stopping background tasks within a bound.

Python 3.11's `asyncio.wait_for` can swallow a cancellation that lands as its inner
future completes (fixed in 3.12), so a loop that awaits it may outlive one `cancel()`.
A premises or hub that waited for such a task would hang its caller's shutdown
forever; these helpers cancel again until the tasks end and give up after a bound,
naming what is left in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

#: Real seconds a shutdown waits for its tasks to end after cancelling them.
STOP_WITHIN_S = 5.0
#: Real seconds between repeated cancellations of a task that did not end.
RECANCEL_EVERY_S = 0.05


async def cancel_and_wait(
    tasks: Iterable[asyncio.Future[Any]],
    within: float = STOP_WITHIN_S,
) -> list[asyncio.Future[Any]]:
    """Cancel `tasks` and wait for them to end; the ones still running after `within`.

    A task that had failed is logged, not raised (the shutdown goes on), and a task
    that survives a cancellation is cancelled again.
    """
    tasks = list(tasks)
    pending = [t for t in tasks if not t.done()]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, still = await asyncio.wait(pending, timeout=min(RECANCEL_EVERY_S, left))
        pending = list(still)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("task %r had failed before its shutdown: %s", task, task.exception())
    for task in pending:
        log.warning("task %r did not end within %g s of its cancellation", task, within)
    return pending
