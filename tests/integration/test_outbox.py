"""Every change writes its CloudEvent to the outbox in the same transaction."""

import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from events import outbox_table, pending_table
from services.bootstrap import Container
from services.shared.auth.principal import Principal
from services.shared.tables import tasks
from services.tasks import service
from services.tasks.schemas import TaskCreate, TaskUpdate
from tests.conftest import User


async def outbox(container: Container) -> list[dict[str, Any]]:
    async with container.engine.connect() as conn:
        pending = sa.select(pending_table.c.id).where(pending_table.c.id == outbox_table.c.id)
        query = sa.select(outbox_table, pending.exists().label("pending"))
        rows = (await conn.execute(query.order_by(outbox_table.c.id))).all()
    return [{**r._mapping, "event": json.loads(r._mapping["payload"])} for r in rows]


async def task_count(container: Container) -> int:
    async with container.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(tasks))).scalar_one())


async def test_each_change_has_its_event_in_order(alice: User, container: Container) -> None:
    task = await alice.add(
        title="Pay rent", due_at="2030-01-01T09:00:00", remind_at="2030-01-01T08:00:00"
    )
    await alice.patch(f"/api/tasks/{task['id']}", json={"priority": "high"})
    await alice.patch(f"/api/tasks/{task['id']}", json={"remind_at": "2030-01-01T08:30:00"})
    await alice.patch(f"/api/tasks/{task['id']}", json={"priority": "high"})  # no change
    await alice.post(f"/api/tasks/{task['id']}/complete")
    await alice.post(f"/api/tasks/{task['id']}/complete")  # already done: nothing
    await alice.post(f"/api/tasks/{task['id']}/reopen")
    await alice.delete(f"/api/tasks/{task['id']}")
    rows = await outbox(container)
    assert [r["event_type"] for r in rows] == [
        "task.created",
        "reminder.scheduled",
        "task.updated",
        "task.updated",
        "reminder.scheduled",
        "task.completed",
        "task.updated",
        "task.deleted",
    ]
    assert [r["topic"] for r in rows] == [
        "task-events",
        "reminder-events",
        "task-events",
        "task-events",
        "reminder-events",
        "task-events",
        "task-events",
        "task-events",
    ]
    for row in rows:
        event = row["event"]
        assert event["specversion"] == "1.0"
        assert event["source"] == "/task-api"
        assert event["userid"] == alice.id == row["partition_key"]
        assert event["subject"] == task["id"]
        assert event["id"] == row["event_id"]
        assert event["datacontenttype"] == "application/json"
        assert row["pending"]  # queued for the relay (none runs here)
    assert len({r["event_id"] for r in rows}) == len(rows)
    created = rows[0]["event"]["data"]["task"]
    assert created["title"] == "Pay rent"
    assert created["due_at"] == "2030-01-01T09:00:00-05:00"
    assert rows[1]["event"]["data"]["remind_at"] == "2030-01-01T08:00:00-05:00"
    assert rows[2]["event"]["data"]["changed"] == ["priority"]
    assert rows[4]["event"]["data"]["remind_at"] == "2030-01-01T08:30:00-05:00"
    completed = rows[5]["event"]["data"]["task"]
    assert completed["status"] == "completed"
    assert completed["series_id"] == task["id"]


async def test_completed_recurring_task_event_carries_what_the_next_occurrence_needs(
    alice: User, container: Container
) -> None:
    task = await alice.add(
        title="Standup",
        due_at="2030-03-08T09:00:00",
        timezone="America/New_York",
        recurrence_rule="FREQ=DAILY;COUNT=5",
        remind_at="2030-03-08T08:45:00",
    )
    await alice.post(f"/api/tasks/{task['id']}/complete")
    event = (await outbox(container))[-1]["event"]
    assert event["type"] == "task.completed"
    data = event["data"]["task"]
    assert data["recurrence_rule"] == "FREQ=DAILY;COUNT=5"
    assert data["timezone"] == "America/New_York"
    assert data["due_at"] == "2030-03-08T09:00:00-05:00"
    assert data["remind_at"] == "2030-03-08T08:45:00-05:00"
    assert data["series_id"] == task["series_id"]


async def test_rejected_input_writes_nothing(alice: User, container: Container) -> None:
    bad = await alice.post("/api/tasks", json={"title": "x", "recurrence_rule": "FREQ=NEVER"})
    assert bad.status_code == 422
    assert await outbox(container) == []
    assert await task_count(container) == 0


async def test_a_failed_transaction_leaves_neither_row_nor_event(
    alice: User, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = Principal(uuid.UUID(alice.id), alice.email, None, "UTC")
    kept = await alice.add(title="kept")

    from services.shared import uow as uow_module

    real_rows, real_write = uow_module.outbox_rows, uow_module.write_outbox

    def rows_twice(events: Any) -> list[dict[str, object]]:
        rows = real_rows(events)
        return rows + rows  # the task is written first, then its event's second row fails

    async def write_then_fail(conn: Any, events: Any) -> None:
        await real_write(conn, events)  # the event row is written, then the commit fails
        raise RuntimeError("simulated crash before commit")

    # A new task and its events: on PostgreSQL one statement, its own transaction.
    monkeypatch.setattr(uow_module, "outbox_rows", rows_twice)
    with pytest.raises(sa.exc.IntegrityError):
        async with container.uow() as uow:
            await service.create_task(uow, user=user, data=TaskCreate(title="lost"))
    monkeypatch.setattr(uow_module, "outbox_rows", real_rows)
    monkeypatch.setattr(uow_module, "write_outbox", write_then_fail)
    async with container.uow() as uow:  # a unit that read first: BEGIN ... COMMIT
        assert await uow.tasks.get(user.user_id, uuid.UUID(str(kept["id"]))) is not None
        with pytest.raises(RuntimeError):
            await service.create_task(uow, user=user, data=TaskCreate(title="lost"))
    # A change: on PostgreSQL the changed row and its events are one statement as well.
    monkeypatch.setattr(uow_module, "outbox_rows", rows_twice)
    with pytest.raises((RuntimeError, sa.exc.IntegrityError)):
        async with container.uow() as uow:
            await service.update_task(
                uow, user=user, task_id=uuid.UUID(str(kept["id"])), data=TaskUpdate(title="changed")
            )
    monkeypatch.undo()
    assert await task_count(container) == 1
    assert [r["event_type"] for r in await outbox(container)] == ["task.created"]
    assert (await alice.get(f"/api/tasks/{kept['id']}")).json()["title"] == "kept"


async def test_new_tasks_stored_in_chunks_each_have_their_events_in_order(
    alice: User, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from services.tasks.domain.editing import new_task

    monkeypatch.setattr(service, "STORE_CHUNK", 2)
    user_id = uuid.UUID(alice.id)
    now = datetime.now(UTC)
    new = [
        new_task(
            user_id=user_id,
            fields={
                "title": f"task {n}",
                **({"remind_at": datetime(2030, 1, 1, 8, tzinfo=UTC)} if n == 2 else {}),
            },
            default_timezone="UTC",
            now=now,
        )
        for n in range(5)
    ]
    async with container.uow() as uow:
        await service.store_new_tasks(uow, new)
    assert await task_count(container) == 5
    rows = await outbox(container)
    assert [(r["event_type"], r["event"]["subject"]) for r in rows] == [
        ("task.created", str(new[0].id)),
        ("task.created", str(new[1].id)),
        ("task.created", str(new[2].id)),
        ("reminder.scheduled", str(new[2].id)),
        ("task.created", str(new[3].id)),
        ("task.created", str(new[4].id)),
    ]
    assert {r["partition_key"] for r in rows} == {alice.id}
