"""The audit recorder: one row per (event, topic), however often an event is
delivered; an account's deletion redacts what was recorded of it, and what
arrives of it afterwards on any topic."""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from events import CloudEvent, new_event
from events.topics import EventType, Topic
from services.audit.trail import REDACTED, AuditRecorder, audit_logs
from services.bootstrap import Container
from testsupport.event_data import task_data


def _created(user: uuid.UUID, title: str) -> CloudEvent:
    task = task_data(title=title)
    return new_event(
        EventType.TASK_CREATED,
        source="/task-api",
        user_id=user,
        subject=task["id"],
        data={"task": task},
    )


def _deleted(user: uuid.UUID) -> CloudEvent:
    return new_event(
        EventType.USER_DELETED,
        source="/task-api",
        user_id=user,
        subject=user,
        data={"user_id": str(user)},
    )


async def _rows(container: Container) -> list[dict[str, Any]]:
    async with container.engine.connect() as conn:
        found = await conn.execute(
            sa.select(audit_logs.c.event_id, audit_logs.c.actor_id, audit_logs.c.metadata).order_by(
                audit_logs.c.id
            )
        )
        return [dict(row._mapping) for row in found]


async def test_each_event_once_and_a_deleted_account_redacted_before_and_after(
    container: Container,
) -> None:
    recorder = AuditRecorder(container.engine)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    before, bobs = _created(alice, "Pay rent"), _created(bob, "Water the plants")
    for event in (before, before, bobs, before):  # redelivered
        await recorder.record(Topic.TASK_EVENTS, event)
    rows = await _rows(container)
    assert [r["event_id"] for r in rows] == [before.id, bobs.id]
    assert rows[0]["metadata"]["task"]["title"] == "Pay rent"

    deletion = _deleted(alice)
    await recorder.record(Topic.TASK_EVENTS, deletion)
    await recorder.record(Topic.TASK_EVENTS, deletion)
    late = _created(alice, "Call the bank")  # another topic's partition was behind
    await recorder.record(Topic.REMINDER_EVENTS, late)

    by_id = {r["event_id"]: r for r in await _rows(container)}
    assert len(by_id) == 4
    assert by_id[before.id]["metadata"] == REDACTED
    assert by_id[late.id]["metadata"] == REDACTED
    assert by_id[deletion.id]["metadata"] == {"user_id": str(alice)}
    assert by_id[bobs.id]["metadata"]["task"]["title"] == "Water the plants"


@contextmanager
def _plans(container: Container) -> Iterator[list[list[Any]]]:
    """Every statement run on the container's engine inside is explained instead
    (PostgreSQL: EXPLAIN ANALYZE, so it still runs; SQLite: its query plan), and
    the plan's rows are collected."""
    engine = container.engine.sync_engine
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " if postgres else "EXPLAIN QUERY PLAN "
    found: list[list[Any]] = []

    def explain(conn: Any, cursor: Any, statement: str, *rest: Any) -> tuple[str, Any]:
        return prefix + statement, rest[0]

    def collect(conn: Any, cursor: Any, *rest: Any) -> None:
        found.append(list(cursor.fetchall()))

    sa.event.listen(engine, "before_cursor_execute", explain, retval=True)
    sa.event.listen(engine, "after_cursor_execute", collect)
    try:
        yield found
    finally:
        sa.event.remove(engine, "before_cursor_execute", explain)
        sa.event.remove(engine, "after_cursor_execute", collect)


def _pages(plan: Any) -> int:
    """The pages a PostgreSQL statement touched, from its EXPLAIN (ANALYZE, BUFFERS)."""
    top = (json.loads(plan) if isinstance(plan, str) else plan)[0]
    node = top["Plan"]
    return int(node["Shared Hit Blocks"]) + int(node["Shared Read Blocks"])


async def _lengthen_trail(container: Container, actor: uuid.UUID, rows: int) -> None:
    now = datetime.now(UTC)
    async with container.engine.begin() as conn:
        await conn.execute(
            audit_logs.insert(),
            [
                {
                    "event_id": uuid.uuid4().hex,
                    "topic": Topic.TASK_EVENTS,
                    "event_type": EventType.TASK_UPDATED,
                    "event_source": "/task-api",
                    "event_time": now,
                    "actor_id": str(actor),
                    "resource_type": "task",
                    "resource_id": uuid.uuid4().hex,
                    "recorded_at": now,
                    "metadata": {"task": {"title": f"Old change {n}"}},
                }
                for n in range(rows)
            ],
        )
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.text("ANALYZE audit_logs"))


async def test_recording_an_event_does_not_read_the_actors_whole_trail(
    container: Container,
) -> None:
    # Each event recorded asks whether its actor's account was deleted. That
    # question must not cost more the longer the user has used the product.
    recorder = AuditRecorder(container.engine)
    alice = uuid.uuid4()
    await recorder.record(Topic.TASK_EVENTS, _created(alice, "Warm up"))
    with _plans(container) as short:
        await recorder.record(Topic.TASK_EVENTS, _created(alice, "Short trail"))
    await _lengthen_trail(container, alice, 3_000)
    with _plans(container) as long:
        await recorder.record(Topic.TASK_EVENTS, _created(alice, "Long trail"))

    if container.engine.dialect.name == "sqlite":  # its query plan: planned, not run
        details = " | ".join(str(row[-1]) for row in long[0])
        assert "ix_audit_deleted_actor" in details, details
        return
    (short_plan,), (long_plan,) = short[0], long[0]
    grew = _pages(long_plan[0]) - _pages(short_plan[0])
    # a few more index levels at most; reading the trail would be ~100 pages
    assert grew <= 10, f"recording read {grew} pages more after 3,000 rows"
    async with container.engine.connect() as conn:
        kept = await conn.execute(
            sa.select(sa.func.count())
            .select_from(audit_logs)
            .where(audit_logs.c.actor_id == str(alice))
        )
        assert kept.scalar_one() == 3_003  # EXPLAIN ANALYZE ran the inserts it explained
