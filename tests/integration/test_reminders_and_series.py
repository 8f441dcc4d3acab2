"""Reminders fire exactly once with several schedulers and across restarts;
the recurrence preview reproduces RFC 5545 and survives DST."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from events import CloudEvent, EventType, Topic, new_event
from events.bus import Subscription
from events.outbox import outbox_table
from services.bootstrap import Container, bootstrap
from services.recurring.reminders import ReminderScheduler, ScheduleHandler, schedule
from tests.conftest import User
from tests.integration.events.test_event_flow import eventually
from testsupport.event_data import task_data


def _data(kind: EventType, task: dict[str, Any]) -> dict[str, Any]:
    if kind == EventType.TASK_UPDATED:
        return {"task": task, "changed": ["remind_at"]}
    if kind == EventType.TASK_COMPLETED:
        series = {"start_at": None, "occurrence_at": None, "sequence": 1, "exdates": []}
        return {"task": task, "series": series}
    return {"task": task}


def task_event(
    kind: EventType,
    task_id: uuid.UUID,
    user: uuid.UUID,
    *,
    version: int,
    remind_at: datetime | None,
    status: str = "active",
) -> CloudEvent:
    return new_event(
        kind,
        source="/test",
        user_id=user,
        subject=task_id,
        data=_data(
            kind,
            task_data(
                id=str(task_id),
                series_id=str(task_id),
                title="t",
                status=status,
                version=version,
                remind_at=None if remind_at is None else remind_at.isoformat(),
            ),
        ),
    )


class Triggered:
    def __init__(self) -> None:
        self.events: list[CloudEvent] = []

    async def __call__(self, event: CloudEvent) -> None:
        if event.type == EventType.REMINDER_TRIGGERED:
            self.events.append(event)


async def test_two_schedulers_fire_each_reminder_exactly_once(
    container: Container, key_file: Any, tmp_path: Any
) -> None:
    triggered = Triggered()
    await container.bus.start([Subscription(Topic.REMINDER_EVENTS, "watch", triggered)])
    await container.relay.start()
    handler = ScheduleHandler(container.uow, lambda: None)
    user = uuid.uuid4()
    due = datetime.now(UTC) + timedelta(seconds=1)
    tasks = [uuid.uuid4() for _ in range(40)]
    for task_id in tasks:
        await handler(task_event(EventType.TASK_CREATED, task_id, user, version=1, remind_at=due))
    second = bootstrap(
        database_url=container.settings.database_url,
        jwt_private_key_file=key_file,
        data_dir=tmp_path,
    )
    schedulers = [
        ReminderScheduler(container.engine, container.uow, max_sleep=0.05),
        ReminderScheduler(second.engine, second.uow, max_sleep=0.05),
    ]
    try:
        for scheduler in schedulers:
            await scheduler.start()
        await eventually(lambda: len(triggered.events) >= 40, timeout=15)
        await asyncio.sleep(0.5)
    finally:
        for scheduler in schedulers:
            await scheduler.stop()
        await container.relay.stop()
        await second.aclose()
    fired = [uuid.UUID(e.data["task_id"]) for e in triggered.events]
    assert sorted(fired) == sorted(tasks)
    assert sum(s.fired_total for s in schedulers) == 40
    late = [datetime.fromisoformat(e.data["fired_at"]) - due for e in triggered.events]
    assert all(timedelta(0) <= d for d in late)


async def test_a_restarted_scheduler_fires_what_came_due_while_it_was_down_once(
    container: Container,
) -> None:
    handler = ScheduleHandler(container.uow, lambda: None)
    user, task_id = uuid.uuid4(), uuid.uuid4()
    await handler(
        task_event(
            EventType.TASK_CREATED,
            task_id,
            user,
            version=1,
            remind_at=datetime.now(UTC) + timedelta(milliseconds=200),
        )
    )
    await asyncio.sleep(0.4)  # due while no scheduler runs
    scheduler = ReminderScheduler(container.engine, container.uow)
    assert await scheduler.fire_due() == 1
    assert await scheduler.fire_due() == 0
    restarted = ReminderScheduler(container.engine, container.uow)
    assert await restarted.fire_due() == 0


async def test_concurrent_batch_claims_fire_each_due_reminder_once_in_due_order(
    container: Container,
) -> None:
    """Six schedulers claim small batches at the same time (on PostgreSQL
    each on a connection of its own): every due reminder is written to the
    outbox exactly once, and each batch holds each user's reminders in the
    order they came due."""
    users = [uuid.uuid4() for _ in range(5)]
    start = datetime.now(UTC) - timedelta(minutes=10)
    rows = [
        {
            "task_id": uuid.uuid4(),
            "user_id": users[i % len(users)],
            "remind_at": start + timedelta(seconds=i // 7),
            "title": f"r{i}",
            "due_at": None,
            "timezone": "UTC",
            "task_version": 1,
            "fired_at": None,
        }
        for i in range(300)
    ]
    later = {
        **rows[0],
        "task_id": uuid.uuid4(),
        "remind_at": datetime.now(UTC) + timedelta(hours=1),
    }
    async with container.engine.begin() as conn:
        await conn.execute(schedule.insert(), [*rows, later])
    schedulers = [
        ReminderScheduler(container.engine, container.uow, batch_size=17) for _ in range(6)
    ]

    async def drain(scheduler: ReminderScheduler) -> None:
        while await scheduler.fire_due():
            pass

    await asyncio.gather(*(drain(s) for s in schedulers))
    assert sum(s.fired_total for s in schedulers) == len(rows)
    async with container.engine.connect() as conn:
        outbox = (
            await conn.execute(
                sa.select(outbox_table.c.payload)
                .where(outbox_table.c.event_type == EventType.REMINDER_TRIGGERED)
                .order_by(outbox_table.c.id)
            )
        ).scalars()
        fired = [CloudEvent.model_validate_json(payload) for payload in outbox]
        unfired = (
            await conn.execute(sa.select(schedule.c.task_id).where(schedule.c.fired_at.is_(None)))
        ).scalars()
        assert list(unfired) == [later["task_id"]]
    assert sorted(e.data["task_id"] for e in fired) == sorted(str(r["task_id"]) for r in rows)
    # Within one claimed batch (one `fired_at`), each user's reminders are
    # written in the order they came due; batches of concurrent schedulers
    # may commit in either order.
    batches = {e.data["fired_at"] for e in fired}
    assert len(batches) >= len(rows) // 17
    for batch in batches:
        for user in users:
            times = [
                datetime.fromisoformat(e.data["remind_at"])
                for e in fired
                if e.userid == str(user) and e.data["fired_at"] == batch
            ]
            assert times == sorted(times)


async def test_the_schedule_follows_the_latest_task_version(container: Container) -> None:
    changes: list[int] = []
    handler = ScheduleHandler(container.uow, lambda: changes.append(1))
    user, task_id = uuid.uuid4(), uuid.uuid4()
    early = datetime.now(UTC) + timedelta(hours=1)
    late = early + timedelta(hours=1)
    newer = task_event(EventType.TASK_UPDATED, task_id, user, version=2, remind_at=late)
    older = task_event(EventType.TASK_CREATED, task_id, user, version=1, remind_at=early)
    await handler(newer)
    await handler(older)  # arrives late: ignored
    await handler(newer)  # redelivered: ignored

    async def rows() -> list[Any]:
        async with container.engine.connect() as conn:
            return list((await conn.execute(sa.select(schedule))).all())

    [row] = await rows()
    assert (row.remind_at, row.task_version) == (late, 2)
    stale_completion = task_event(
        EventType.TASK_COMPLETED, task_id, user, version=1, remind_at=early, status="completed"
    )
    await handler(stale_completion)  # older than the reminder kept: drops nothing
    [row] = await rows()
    assert (row.remind_at, row.task_version) == (late, 2)
    await handler(
        task_event(
            EventType.TASK_COMPLETED, task_id, user, version=3, remind_at=late, status="completed"
        )
    )
    assert await rows() == []
    await handler(task_event(EventType.TASK_UPDATED, task_id, user, version=4, remind_at=late))
    assert len(await rows()) == 1
    await handler(task_event(EventType.TASK_DELETED, task_id, user, version=4, remind_at=late))
    assert await rows() == []
    await handler(task_event(EventType.TASK_UPDATED, task_id, user, version=5, remind_at=None))
    # Every event that changed the schedule woke the scheduler; the redelivery,
    # the stale completion and the update with nothing to drop did not.
    assert len(changes) == 5


async def test_task_events_that_cannot_touch_a_reminder_cost_no_statement(
    container: Container,
) -> None:
    handler = ScheduleHandler(container.uow, lambda: None)
    user, task_id = uuid.uuid4(), uuid.uuid4()
    sent: list[str] = []

    @sa.event.listens_for(container.engine.sync_engine, "after_cursor_execute")
    def _sent(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement.split()[0].upper())

    async def rows() -> list[Any]:
        async with container.engine.connect() as conn:
            return list((await conn.execute(sa.select(schedule))).all())

    def updated(version: int, changed: list[str], remind_at: datetime | None) -> CloudEvent:
        event = task_event(EventType.TASK_UPDATED, task_id, user, version=version, remind_at=None)
        data = {**event.data, "changed": changed}
        data["task"] = {**data["task"], "remind_at": remind_at and remind_at.isoformat()}
        return event.model_copy(update={"data": data})

    await handler(task_event(EventType.TASK_CREATED, task_id, user, version=1, remind_at=None))
    await handler(updated(2, ["priority"], None))
    assert sent == []  # a task that never had a reminder: nothing to look up
    soon = datetime.now(UTC) + timedelta(hours=1)
    await handler(updated(3, ["remind_at"], soon))
    assert len(await rows()) == 1
    await handler(updated(4, ["remind_at"], None))  # the reminder taken away
    assert await rows() == []
    sent.clear()
    await handler(updated(5, ["title"], None))
    assert sent == []
    await handler(
        task_event(EventType.TASK_COMPLETED, task_id, user, version=6, remind_at=None)
    )
    assert sent != []  # a completion may end a reminder: still cleared
    sent.clear()
    await handler(updated(7, ["title", "priority"], soon))  # has a reminder: kept in step
    assert sent != []
    [row] = await rows()
    assert row.task_version == 7


async def test_a_restored_reminder_fires_again_only_when_still_ahead(
    container: Container,
) -> None:
    handler = ScheduleHandler(container.uow, lambda: None)
    user, past_task, ahead_task = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    past = datetime.now(UTC) - timedelta(hours=1)
    ahead = datetime.now(UTC) + timedelta(hours=1)
    for task_id, remind_at in ((past_task, past), (ahead_task, ahead)):
        restored = task_event(EventType.TASK_CREATED, task_id, user, version=3, remind_at=remind_at)
        restored.data["restored"] = True
        await handler(restored)
    async with container.engine.connect() as conn:
        rows = {r.task_id: r for r in (await conn.execute(sa.select(schedule))).all()}
    assert rows[past_task].fired_at is not None  # due before the deletion: not sent twice
    assert rows[ahead_task].fired_at is None
    assert await ReminderScheduler(container.engine, container.uow).fire_due() == 0


@pytest.mark.parametrize(
    ("rule", "start", "tz", "expected"),
    [
        # RFC 5545 §3.8.5.3 examples (DTSTART 1997-09-02 09:00 America/New_York).
        (
            "FREQ=DAILY;COUNT=10",
            "1997-09-02T09:00",
            "America/New_York",
            ["1997-09-02T09:00:00-04:00", "1997-09-03T09:00:00-04:00", "1997-09-04T09:00:00-04:00"],
        ),
        (
            "FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH",
            "1997-09-02T09:00",
            "America/New_York",
            ["1997-09-02T09:00:00-04:00", "1997-09-04T09:00:00-04:00", "1997-09-09T09:00:00-04:00"],
        ),
        (
            "FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU",
            "1997-09-07T09:00",
            "America/New_York",
            ["1997-09-07T09:00:00-04:00", "1997-09-28T09:00:00-04:00", "1997-11-02T09:00:00-05:00"],
        ),
        (
            "FREQ=MONTHLY;COUNT=6;BYDAY=-2MO",
            "1997-09-22T09:00",
            "America/New_York",
            ["1997-09-22T09:00:00-04:00", "1997-10-20T09:00:00-04:00", "1997-11-17T09:00:00-05:00"],
        ),
        (
            "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
            "1997-01-01T09:00",
            "America/New_York",
            ["1997-01-01T09:00:00-05:00", "1997-04-10T09:00:00-04:00", "1997-07-19T09:00:00-04:00"],
        ),
        (
            "FREQ=YEARLY;BYDAY=20MO",
            "1997-05-19T09:00",
            "America/New_York",
            ["1997-05-19T09:00:00-04:00", "1998-05-18T09:00:00-04:00", "1999-05-17T09:00:00-04:00"],
        ),
        (
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
            "1997-09-29T09:00",
            "America/New_York",
            ["1997-09-29T09:00:00-04:00", "1997-10-30T09:00:00-05:00", "1997-11-27T09:00:00-05:00"],
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5",
            "2007-01-15T09:00",
            "America/New_York",
            [
                "2007-01-15T09:00:00-05:00",
                "2007-01-30T09:00:00-05:00",
                "2007-02-15T09:00:00-05:00",
                "2007-03-15T09:00:00-04:00",
                "2007-03-30T09:00:00-04:00",
            ],
        ),
        # DST: 09:00 stays 09:00 in Berlin; the gap hour on a spring-forward day.
        (
            "FREQ=DAILY",
            "2027-03-27T09:00",
            "Europe/Berlin",
            ["2027-03-27T09:00:00+01:00", "2027-03-28T09:00:00+02:00", "2027-03-29T09:00:00+02:00"],
        ),
        (
            "FREQ=DAILY",
            "2027-03-27T02:30",
            "Europe/Berlin",
            ["2027-03-27T02:30:00+01:00", "2027-03-28T03:30:00+02:00", "2027-03-29T02:30:00+02:00"],
        ),
        (
            "FREQ=DAILY",
            "2027-11-06T01:30",
            "America/New_York",
            ["2027-11-06T01:30:00-04:00", "2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"],
        ),
        (
            "FREQ=MONTHLY;BYMONTHDAY=31",
            "2027-01-31T08:00",
            "Asia/Kolkata",
            ["2027-01-31T08:00:00+05:30", "2027-03-31T08:00:00+05:30", "2027-05-31T08:00:00+05:30"],
        ),
    ],
)
async def test_preview_reproduces_rfc5545_and_dst(
    alice: User, rule: str, start: str, tz: str, expected: list[str]
) -> None:
    response = await alice.post(
        "/api/recurrence/preview",
        json={"rule": rule, "start": start, "timezone": tz, "count": len(expected)},
    )
    assert response.status_code == 200, response.text
    assert response.json()["occurrences"] == expected
