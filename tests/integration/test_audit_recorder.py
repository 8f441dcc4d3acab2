"""The audit recorder: one row per (event, topic), however often an event is
delivered; an account's deletion redacts what was recorded of it, and what
arrives of it afterwards on any topic."""

import uuid
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
