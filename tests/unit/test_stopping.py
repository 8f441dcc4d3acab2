"""Background tasks end when the process shuts down, whatever they were doing: the
loop under the outbox relay and the reminder scheduler, and any task stopped with
`cancel_and_wait`. One that runs on keeps a pod alive to its grace period's end, and
a test or a benchmark waiting forever."""

import asyncio
import contextlib
import logging

import pytest

from events.stopping import cancel_and_wait
from events.wakeable import WakeableLoop


class Sleeper(WakeableLoop):
    """Sleeps and wakes, forever, as the relay does between passes."""

    def __init__(self) -> None:
        super().__init__()
        self.passes = 0
        self.sleeping = asyncio.Event()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self.passes += 1
            self.sleeping.set()
            await self._sleep(60)


async def _end(loop: WakeableLoop) -> None:
    """However the test went, leave no loop running for the event loop's teardown."""
    task = loop._task
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1)


async def test_stop_ends_a_loop_woken_in_the_same_instant() -> None:
    """A commit's notify() and the shutdown's stop() in the same turn of the event
    loop: the wake-up must not swallow the cancellation (Python 3.11's `wait_for`
    returns the finished wait's result instead of raising it), or stop() waits on a
    loop that goes on forever."""
    loop = Sleeper()
    await loop.start()
    await asyncio.wait_for(loop.sleeping.wait(), timeout=10)
    loop.notify()
    stopping = asyncio.create_task(loop.stop())
    try:
        # Not a timeout around stop(): its cancellation would reach the loop again.
        done, _ = await asyncio.wait({stopping}, timeout=10)
        assert stopping in done, "stop() did not end a loop woken as it was stopped"
        await stopping
    finally:
        await _end(loop)


async def test_a_woken_loop_runs_another_pass_and_a_stopped_one_can_start_again() -> None:
    loop = Sleeper()
    await loop.start()
    await asyncio.wait_for(loop.sleeping.wait(), timeout=10)
    loop.sleeping.clear()
    loop.notify()
    await asyncio.wait_for(loop.sleeping.wait(), timeout=10)
    assert loop.passes == 2
    await loop.stop()
    await loop.start()
    await asyncio.wait_for(loop.sleeping.wait(), timeout=10)
    async with asyncio.timeout(10):
        await loop.stop()


async def test_a_task_that_swallows_its_cancellation_is_cancelled_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cleaned_up = asyncio.Event()

    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # as a library may
            await asyncio.sleep(60)
        try:
            await asyncio.sleep(60)
        finally:
            cleaned_up.set()

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)  # let it reach its first sleep
    with caplog.at_level(logging.WARNING, logger="events.stopping"):
        await asyncio.wait_for(cancel_and_wait(task, retry_s=0.05), timeout=10)
    assert task.cancelled()
    assert cleaned_up.is_set()
    assert "stubborn still runs" in caplog.text


async def test_what_a_task_died_of_is_raised() -> None:
    async def broken() -> None:
        raise ValueError("the loop broke")

    task = asyncio.create_task(broken())
    await asyncio.wait({task})
    with pytest.raises(ValueError, match="the loop broke"):
        await cancel_and_wait(task)


async def test_a_task_given_time_to_clean_up_is_not_interrupted() -> None:
    """One cancellation only, while the task's way out takes less than the retry."""
    finished = asyncio.Event()

    async def graceful() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            await asyncio.sleep(0.2)  # leaving a consumer group, say
            finished.set()

    task = asyncio.create_task(graceful())
    await asyncio.sleep(0)
    await cancel_and_wait(task, retry_s=5)
    assert finished.is_set()
