"""Ending a background task at shutdown."""

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)

# Long enough for what a task does on its way out (a consumer leaving its group,
# the relay handing back its claim), short against a pod's 30 s grace period.
RETRY_S = 10.0


async def cancel_and_wait(task: "asyncio.Task[Any]", *, retry_s: float = RETRY_S) -> None:
    """Cancel `task` and wait until it has ended, cancelling it again each `retry_s`
    while it runs on. Code a task awaits can swallow a cancellation (on Python 3.11,
    `asyncio.wait_for` returns an inner result that finished in the same instant),
    and a task left running would keep the process from shutting down. What the task
    died of, other than the cancellation, is raised."""
    task.cancel()
    while True:
        await asyncio.wait({task}, timeout=retry_s)
        if task.done():
            break
        log.warning(
            "%s still runs %.0f s after it was cancelled; cancelling it again",
            task.get_name(),
            retry_s,
        )
        task.cancel()
    if not task.cancelled():
        task.result()
