"""The reminder schedule: fed by task events, fired exactly once.

The table is this service's own copy of what to remind and when. What wakes a
reminder when it is due is REMINDER_SCHEDULER's to say:

- `builtin` (`ReminderScheduler`): a worker of this process sleeps until the
  next reminder is due (or until a handler in this process schedules a nearer
  one) and claims a batch of due rows with one `UPDATE … RETURNING`, whose
  `reminder.triggered` events go to the outbox in one insert;
- `dapr-jobs` (`JobReminders`): each pending reminder is a one-shot job of the
  Dapr Jobs API named after its task, scheduled, moved or deleted in the same
  transaction that changes the row; Dapr's scheduler calls the service back
  when it is due.

Either way a reminder is claimed with a conditional UPDATE (not fired yet, the
same `remind_at`) in the transaction that writes `reminder.triggered` to the
outbox, so it fires once even with several replicas, a redelivered trigger, a
job left behind by a rolled-back change, and across crashes.
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from events import CloudEvent, EventType, new_event
from events.bus import PermanentFailure
from events.processed import claim_event
from events.wakeable import WakeableLoop
from services.shared.db import conflict_insert
from services.shared.metrics import REMINDER_DELAY, REMINDERS_FIRED
from services.shared.tables import reminder_schedule
from services.shared.uow import UnitOfWork

log = logging.getLogger(__name__)
SOURCE = "/recurring-task-service"
CONSUMER = "recurring-task-reminders"

schedule = reminder_schedule  # this service's table
UowFactory = Callable[[], UnitOfWork]
# Called in the transaction that changed the rows of these tasks, before it commits.
Synced = Callable[[Any, Sequence[uuid.UUID]], Awaitable[None]]


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _took_no_reminder_away(event: CloudEvent) -> bool:
    """Whether the event (of a task now without a reminder) cannot have removed
    one: a creation, or an update that did not change `remind_at`. A completion,
    a deletion and the like may have, and still clear the schedule."""
    if event.type == EventType.TASK_CREATED:
        return True
    if event.type == EventType.TASK_UPDATED:
        return "remind_at" not in (event.data.get("changed") or ())
    return False


class ScheduleHandler:
    """Keeps the schedule in step with `task-events`; a newer task version
    always wins over an older one delivered late."""

    def __init__(
        self,
        uow_factory: UowFactory,
        on_change: Callable[[], None],
        *,
        synced: Synced | None = None,
    ) -> None:
        self._uow = uow_factory
        self._on_change = on_change
        self._synced = synced

    async def __call__(self, event: CloudEvent) -> None:
        if event.type == EventType.USER_DELETED:
            await self._forget(event)
            return
        if not event.type.startswith("task.") or "task" not in event.data:
            return
        try:
            task = event.data["task"]
            task_id, version = uuid.UUID(task["id"]), int(task["version"])
            remind_at = _when(task.get("remind_at"))
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentFailure(f"malformed {event.type}: {exc}") from exc
        if remind_at is None and _took_no_reminder_away(event):
            # Nothing of this task can be in the schedule: whatever gave it no
            # reminder (its creation, or the change that took its reminder
            # away) already cleared it. Most task events: no round trip at all.
            return
        wanted = (
            event.type != EventType.TASK_DELETED
            and task.get("status") == "active"
            and remind_at is not None
        )
        if not wanted and event.type != EventType.TASK_DELETED and self._synced is None:
            # Most task events: nothing to schedule, at most an older version's
            # reminder to drop. The version guard makes a redelivery or a late
            # older event change nothing, so no claim is needed: one statement.
            async with self._uow() as uow:
                dropped = await uow.run_alone(
                    uow.connection.execute(
                        schedule.delete().where(
                            schedule.c.task_id == task_id, schedule.c.task_version < version
                        )
                    )
                )
            if dropped.rowcount:
                self._on_change()
            return
        async with self._uow() as uow:
            if not await claim_event(uow.connection, CONSUMER, event.id):
                return
            conn = uow.connection
            if event.type == EventType.TASK_DELETED:
                await conn.execute(schedule.delete().where(schedule.c.task_id == task_id))
            elif not wanted:
                await conn.execute(
                    schedule.delete().where(
                        schedule.c.task_id == task_id, schedule.c.task_version < version
                    )
                )
            else:
                # A restored task's reminder whose time has passed is not sent
                # again: it was due (and most likely sent) before the deletion.
                past = (
                    event.data.get("restored") is True
                    and remind_at is not None
                    and remind_at <= datetime.now(UTC)
                )
                fired_at = datetime.now(UTC) if past else None
                await self._upsert(conn, event, task, task_id, version, remind_at, fired_at)
            if self._synced is not None:
                await self._synced(conn, [task_id])
            await uow.commit()
        self._on_change()

    async def _forget(self, event: CloudEvent) -> None:
        async with self._uow() as uow:
            user = schedule.c.user_id == uuid.UUID(event.userid)
            conn = uow.connection
            tasks = (await conn.execute(sa.select(schedule.c.task_id).where(user))).scalars().all()
            await conn.execute(schedule.delete().where(user))
            if self._synced is not None:
                await self._synced(conn, tasks)
            await uow.commit()

    async def _upsert(
        self,
        conn: Any,
        event: CloudEvent,
        task: dict[str, Any],
        task_id: uuid.UUID,
        version: int,
        remind_at: datetime | None,
        fired_at: datetime | None = None,
    ) -> None:
        stmt = conflict_insert(conn.dialect.name, schedule).values(
            task_id=task_id,
            user_id=uuid.UUID(event.userid),
            remind_at=remind_at,
            title=task["title"],
            due_at=_when(task.get("due_at")),
            timezone=task["timezone"],
            task_version=version,
            fired_at=fired_at,
        )
        moved = schedule.c.remind_at != stmt.excluded.remind_at
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["task_id"],
                set_={
                    "remind_at": stmt.excluded.remind_at,
                    "title": stmt.excluded.title,
                    "due_at": stmt.excluded.due_at,
                    "timezone": stmt.excluded.timezone,
                    "task_version": stmt.excluded.task_version,
                    # A moved reminder fires again; an unchanged one stays fired.
                    "fired_at": sa.case((moved, None), else_=schedule.c.fired_at),
                },
                where=schedule.c.task_version < stmt.excluded.task_version,
            )
        )


class ReminderScheduler(WakeableLoop):
    task_name = "reminder-scheduler"

    def __init__(
        self,
        engine: AsyncEngine,
        uow_factory: UowFactory,
        *,
        max_sleep: float = 5.0,
        batch_size: int = 200,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._uow = uow_factory
        self.max_sleep = max_sleep
        self.batch_size = batch_size
        self.fired_total = 0

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                while await self.fire_due() == self.batch_size:
                    pass
                wait = await self.seconds_to_next()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database went away: try again shortly
                log.exception("reminder pass failed")
                wait = 1.0
            # Another replica may schedule a nearer reminder without waking us:
            # never sleep longer than max_sleep.
            timeout = self.max_sleep if wait is None else min(wait, self.max_sleep)
            await self._sleep(timeout)

    async def seconds_to_next(self) -> float | None:
        async with self._engine.connect() as conn:
            nearest = (
                await conn.execute(
                    sa.select(sa.func.min(schedule.c.remind_at)).where(
                        schedule.c.fired_at.is_(None)
                    )
                )
            ).scalar_one()
        if nearest is None:
            return None
        if isinstance(nearest, str):
            nearest = datetime.fromisoformat(nearest)
        if nearest.tzinfo is None:
            nearest = nearest.replace(tzinfo=UTC)
        return max(0.0, float((nearest - datetime.now(UTC)).total_seconds()))

    async def fire_due(self) -> int:
        """Claim and fire up to `batch_size` due reminders; return how many fired.

        One statement claims the batch (`claim_due`) and the batch's
        `reminder.triggered` events go to the outbox in one insert, in the
        same transaction: either the rows are marked fired and their events
        are written, or neither is.
        """
        now = datetime.now(UTC)
        async with self._uow() as uow:
            claimed = await claim_due(uow.connection, now, self.batch_size)
            uow.emit(*(_triggered(row, now) for row in claimed))
            await uow.commit()
        self.fired_total += len(claimed)
        _observe([(now - _utc(row.remind_at)).total_seconds() for row in claimed])
        return len(claimed)


async def _claim(uow: UnitOfWork, row: Any, now: datetime) -> float | None:
    """Fire `row` in `uow` unless it fired already or moved: mark it fired and write its
    `reminder.triggered` to the outbox. How late it fired, in seconds, or None."""
    claimed = await uow.connection.execute(
        schedule.update()
        .where(
            schedule.c.task_id == row.task_id,
            schedule.c.fired_at.is_(None),
            schedule.c.remind_at == row.remind_at,
        )
        .values(fired_at=now)
    )
    if claimed.rowcount != 1:
        return None
    uow.emit(_triggered(row, now))
    return (now - _utc(row.remind_at)).total_seconds()


def _observe(delays: Sequence[float]) -> None:
    REMINDERS_FIRED.inc(len(delays))
    for delay in delays:
        REMINDER_DELAY.observe(max(0.0, delay))


class ReminderJobs(Protocol):
    """One-shot jobs kept outside this process (the Dapr Jobs API: `events.jobs.DaprJobs`)."""

    async def schedule(self, name: str, at: datetime, data: dict[str, Any]) -> None: ...

    async def delete(self, name: str) -> None: ...


JOB_PREFIX = "reminder-"
# A trigger this long before its reminder's time did not come from the scheduler.
EARLY_SLACK = timedelta(seconds=2)


def job_name(task_id: uuid.UUID) -> str:
    """The job of a task's reminder: one per task, so moving the reminder replaces it."""
    return f"{JOB_PREFIX}{task_id}"


class JobReminders(WakeableLoop):
    """REMINDER_SCHEDULER=dapr-jobs: every reminder not fired yet is a one-shot job.

    `sync` (the `ScheduleHandler`'s `synced` hook) runs in the transaction that changed the
    rows, before it commits: a job that cannot be scheduled fails the event, which is then
    redelivered with the change undone. `trigger` is what the job's callback runs.

    Started as a worker, it schedules the job of every pending reminder once (retrying
    until the sidecar takes them): reminders kept while REMINDER_SCHEDULER was `builtin`,
    or whose jobs were lost with the scheduler's data, fire too. Each batch holds its rows'
    locks while it schedules, so a change to one of them waits and schedules after it."""

    task_name = "reminder-jobs-resync"

    def __init__(
        self, jobs: ReminderJobs, uow_factory: UowFactory, *, batch_size: int = 200
    ) -> None:
        super().__init__()
        self._jobs = jobs
        self._uow = uow_factory
        self.batch_size = batch_size
        self.fired_total = 0
        self.resynced: int | None = None  # how many jobs the start-up pass scheduled

    async def _run(self) -> None:
        wait = 1.0
        while True:
            try:
                self.resynced = await self.resync()
                log.info("scheduled the jobs of %d pending reminders", self.resynced)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the sidecar or the database is not there yet
                log.warning("scheduling the pending reminders' jobs failed (%s); retrying", exc)
                await self._sleep(wait)
                wait = min(wait * 2, 30.0)

    async def resync(self) -> int:
        """Schedule the job of every reminder not fired yet; how many."""
        done, after = 0, None
        while True:
            async with self._uow() as uow:
                conn = uow.connection
                query = (
                    sa.select(schedule.c.task_id)
                    .where(schedule.c.fired_at.is_(None))
                    .order_by(schedule.c.task_id)
                    .limit(self.batch_size)
                )
                if after is not None:
                    query = query.where(schedule.c.task_id > after)
                if conn.dialect.name == "postgresql":
                    # Rows a handler is changing are skipped: it schedules them itself.
                    query = query.with_for_update(skip_locked=True)
                batch = list((await conn.execute(query)).scalars())
                await self.sync(conn, batch)
                await uow.commit()
            done += len(batch)
            if len(batch) < self.batch_size:
                return done
            after = batch[-1]

    async def sync(self, conn: Any, task_ids: Sequence[uuid.UUID]) -> None:
        if not task_ids:
            return
        pending = {
            row.task_id: row.remind_at
            for row in await conn.execute(
                sa.select(schedule.c.task_id, schedule.c.remind_at).where(
                    schedule.c.task_id.in_(task_ids), schedule.c.fired_at.is_(None)
                )
            )
        }
        for task_id in task_ids:
            remind_at = pending.get(task_id)
            if remind_at is None:
                await self._jobs.delete(job_name(task_id))
            else:
                at = _utc(remind_at)
                await self._jobs.schedule(
                    job_name(task_id), at, {"task_id": str(task_id), "remind_at": at.isoformat()}
                )

    async def trigger(self, name: str, data: dict[str, Any]) -> None:
        """Fire the reminder of the job `name` once; a trigger of a reminder that fired, moved
        or went away does nothing. Raises ValueError for data no job of ours carries."""
        from events.jobs import JobNotDue

        try:
            task_id = uuid.UUID(str(data["task_id"]))
            remind_at = _utc(datetime.fromisoformat(str(data["remind_at"])))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a reminder's job data ({exc!r}): {data}") from exc
        if name != job_name(task_id):
            raise ValueError(f"the job of task {task_id} is {job_name(task_id)}, not {name}")
        now = datetime.now(UTC)
        if remind_at - now > EARLY_SLACK:
            raise JobNotDue(f"job {name} is not due until {remind_at.isoformat()}")
        async with self._uow() as uow:
            row = (
                await uow.connection.execute(
                    sa.select(schedule).where(
                        schedule.c.task_id == task_id, schedule.c.remind_at == remind_at
                    )
                )
            ).one_or_none()
            delay = None if row is None else await _claim(uow, row, now)
            await uow.commit()
        if delay is None:
            log.info("job %s: its reminder fired already, moved or went away", name)
            return
        self.fired_total += 1
        _observe([delay])


async def claim_due(conn: Any, now: datetime, limit: int) -> list[Any]:
    """Mark up to `limit` due, unfired reminders fired at `now`, in one
    statement, and return them in the order they came due.

    `WITH due AS MATERIALIZED (…) UPDATE … WHERE task_id IN due AND
    fired_at IS NULL RETURNING`: on PostgreSQL the due rows are picked
    `FOR UPDATE SKIP LOCKED`, so
    schedulers of several replicas claim disjoint batches without waiting on
    each other, and the outer `fired_at IS NULL` is re-checked on the
    locked row, so a row another scheduler fired meanwhile is not claimed
    again. SQLite has one writer at a time, which gives the same.
    """
    due = (
        sa.select(schedule.c.task_id)
        .where(schedule.c.fired_at.is_(None), schedule.c.remind_at <= now)
        .order_by(schedule.c.remind_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    # Materialized: a subquery PostgreSQL may rescan would lock (and claim)
    # a further batch on every rescan; the CTE runs once.
    picked = due.cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
    rows = (
        await conn.execute(
            schedule.update()
            .where(schedule.c.task_id.in_(sa.select(picked.c.task_id)))
            .where(schedule.c.fired_at.is_(None))
            .values(fired_at=now)
            .returning(*schedule.c)
        )
    ).all()
    # RETURNING gives no order: one user's reminders go out in due order.
    return sorted(rows, key=lambda row: (_utc(row.remind_at), str(row.task_id)))


def _utc(instant: datetime) -> datetime:
    # SQLite hands timestamps back naive; they are stored as UTC.
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def _triggered(row: Any, fired_at: datetime) -> CloudEvent:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(row.timezone)
    return new_event(
        EventType.REMINDER_TRIGGERED,
        source=SOURCE,
        user_id=row.user_id,
        subject=row.task_id,
        data={
            "task_id": str(row.task_id),
            "title": row.title,
            "remind_at": row.remind_at.astimezone(tz).isoformat(),
            "due_at": None if row.due_at is None else row.due_at.astimezone(tz).isoformat(),
            "timezone": row.timezone,
            "fired_at": fired_at.isoformat(),
        },
    )
