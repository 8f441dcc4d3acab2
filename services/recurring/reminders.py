"""The reminder schedule: fed by task events, fired exactly once.

The table is this service's own copy of what to remind and when. The
scheduler sleeps until the next reminder is due (or until a handler in this
process schedules a nearer one), claims a batch of due rows with one
`UPDATE … RETURNING` in the same transaction that writes their
`reminder.triggered` events to the outbox (one insert), so a reminder fires
once even with several replicas and across crashes.
"""

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from events import CloudEvent, EventType, new_event
from events.bus import PermanentFailure
from events.processed import claim_event
from events.wakeable import WakeableLoop
from services.shared.metrics import REMINDER_DELAY, REMINDERS_FIRED
from services.shared.tables import reminder_schedule
from services.shared.uow import UnitOfWork

log = logging.getLogger(__name__)
SOURCE = "/recurring-task-service"
CONSUMER = "recurring-task-reminders"

schedule = reminder_schedule  # this service's table
UowFactory = Callable[[], UnitOfWork]


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class ScheduleHandler:
    """Keeps the schedule in step with `task-events`; a newer task version
    always wins over an older one delivered late."""

    def __init__(self, uow_factory: UowFactory, on_change: Callable[[], None]) -> None:
        self._uow = uow_factory
        self._on_change = on_change

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
        async with self._uow() as uow:
            if not await claim_event(uow.connection, CONSUMER, event.id):
                return
            conn = uow.connection
            wanted = (
                event.type != EventType.TASK_DELETED
                and task.get("status") == "active"
                and remind_at is not None
            )
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
            await uow.commit()
        self._on_change()

    async def _forget(self, event: CloudEvent) -> None:
        async with self._uow() as uow:
            await uow.connection.execute(
                schedule.delete().where(schedule.c.user_id == uuid.UUID(event.userid))
            )
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
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(schedule).values(
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
        fired = len(claimed)
        self.fired_total += fired
        REMINDERS_FIRED.inc(fired)
        for row in claimed:
            REMINDER_DELAY.observe(max(0.0, (now - _utc(row.remind_at)).total_seconds()))
        return fired


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
