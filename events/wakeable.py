"""A background loop that sleeps until it is due or woken, shared by the
outbox relay and the reminder scheduler."""

import asyncio
import contextlib

from events.stopping import cancel_and_wait


class WakeableLoop:
    """Runs `_run()` as a task between `start()` and `stop()`; `notify()`
    cuts short the current `_sleep()`."""

    task_name = "loop"

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        raise NotImplementedError

    async def _sleep(self, seconds: float) -> None:
        # Not `wait_for`: on Python 3.11 a wake-up in the same instant as stop()'s
        # cancellation makes it return instead of raising, and the loop goes on.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.001)):
                await self._wake.wait()
