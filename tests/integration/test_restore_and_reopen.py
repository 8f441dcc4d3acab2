"""Restoring a deleted task (REST), and reopening a completed recurring task,
which withdraws the next occurrence its completion generated, whether that
occurrence was inserted before the reopen or is still on its way."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
import websockets

from events import CloudEvent
from events.outbox import outbox_table
from services.bootstrap import Container
from services.recurring.occurrences import OccurrenceHandler
from services.recurring.reminders import schedule
from services.shared.tables import deleted_tasks, tasks
from services.tasks.consumers import occurrence_subscription
from services.tasks.service import RESTORE_WINDOW
from tests.conftest import LiveServer, MakeUser, User
from tests.integration.events.test_event_flow import eventually, register

FULL = {
    "title": "Renew passport",
    "description": "bring two photos",
    "priority": "high",
    "tags": ["errands", "travel"],
    "due_at": "2031-05-04T10:30",
    "remind_at": "2031-05-03T09:00",
    "timezone": "Europe/Berlin",
    "recurrence_rule": "FREQ=YEARLY",
}
READ_ONLY = {"version", "updated_at"}


def same_except_version(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert {k: v for k, v in after.items() if k not in READ_ONLY} == {
        k: v for k, v in before.items() if k not in READ_ONLY
    }
    assert after["version"] == before["version"] + 1


async def test_a_deleted_task_comes_back_with_its_id_and_fields(alice: User) -> None:
    task = await alice.add(**FULL)
    assert (await alice.delete(f"/api/tasks/{task['id']}")).status_code == 204
    assert (await alice.get(f"/api/tasks/{task['id']}")).status_code == 404
    assert (await alice.get("/api/tasks")).json()["total"] == 0

    restored = await alice.post(f"/api/tasks/{task['id']}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.headers["ETag"] == f'"{task["version"] + 1}"'
    same_except_version(task, restored.json())
    fetched = (await alice.get(f"/api/tasks/{task['id']}")).json()
    assert fetched == restored.json()
    found = (await alice.get("/api/tasks", params={"q": "passport"})).json()
    assert [t["id"] for t in found["items"]] == [task["id"]]

    # Restored once: there is nothing deleted left to restore.
    again = await alice.post(f"/api/tasks/{task['id']}/restore")
    assert again.status_code == 404
    assert "no deleted task" in again.json()["detail"]


async def test_restore_answers_what_to_fix(alice: User, make_user: MakeUser) -> None:
    live = await alice.add(title="Still here")
    not_deleted = await alice.post(f"/api/tasks/{live['id']}/restore")
    assert not_deleted.status_code == 404
    assert not_deleted.headers["content-type"].startswith("application/problem+json")
    unknown = await alice.post(f"/api/tasks/{uuid.uuid4()}/restore")
    assert unknown.status_code == 404
    malformed = await alice.post("/api/tasks/not-a-uuid/restore")
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"].endswith("task_id")

    gone = await alice.add(title="Gone")
    await alice.delete(f"/api/tasks/{gone['id']}")
    bob = await make_user()
    foreign = await bob.post(f"/api/tasks/{gone['id']}/restore")
    assert foreign.status_code == 404
    stale = await alice.post(
        f"/api/tasks/{gone['id']}/restore", headers={"If-Match": f'"{gone["version"] + 5}"'}
    )
    assert stale.status_code == 412
    bad_header = await alice.post(f"/api/tasks/{gone['id']}/restore", headers={"If-Match": "x"})
    assert bad_header.status_code in (400, 422)
    matching = await alice.post(
        f"/api/tasks/{gone['id']}/restore", headers={"If-Match": f'"{gone["version"]}"'}
    )
    assert matching.status_code == 200
    assert (await bob.get(f"/api/tasks/{gone['id']}")).status_code == 404


async def test_a_deletion_older_than_the_window_is_purged(
    alice: User, container: Container
) -> None:
    old = await alice.add(title="Long gone")
    recent = await alice.add(title="Just gone")
    await alice.delete(f"/api/tasks/{old['id']}")
    async with container.engine.begin() as conn:
        await conn.execute(
            deleted_tasks.update()
            .where(deleted_tasks.c.id == uuid.UUID(str(old["id"])))
            .values(deleted_at=datetime.now(UTC) - RESTORE_WINDOW - timedelta(minutes=1))
        )
    assert (await alice.post(f"/api/tasks/{old['id']}/restore")).status_code == 404
    await alice.delete(f"/api/tasks/{recent['id']}")  # each deletion purges what expired
    async with container.engine.connect() as conn:
        kept = (await conn.execute(sa.select(deleted_tasks.c.title))).scalars().all()
    assert kept == ["Just gone"]


async def test_a_restored_occurrence_that_was_replaced_is_a_conflict(
    alice: User, container: Container
) -> None:
    series = await alice.add(
        title="Water plants", due_at="2031-01-01T09:00", recurrence_rule="FREQ=DAILY"
    )
    await alice.delete(f"/api/tasks/{series['id']}")
    # Another task now holds the same series occurrence (as an import could make).
    async with container.engine.begin() as conn:
        row = (await conn.execute(sa.select(deleted_tasks))).mappings().one()
        copy = {k: v for k, v in row.items() if k != "deleted_at"}
        copy["id"] = uuid.uuid4()
        await conn.execute(tasks.insert().values(**copy))
    conflict = await alice.post(f"/api/tasks/{series['id']}/restore")
    assert conflict.status_code == 409
    assert "same occurrence" in conflict.json()["detail"]
    assert (await alice.get(f"/api/tasks/{series['id']}")).status_code == 404


async def _receive(socket: Any, kind: str) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if message["type"] == kind:
            return dict(message)


async def _scheduled(container: Container, task_id: str) -> bool:
    async with container.engine.connect() as conn:
        found = await conn.execute(
            sa.select(schedule.c.task_id).where(schedule.c.task_id == uuid.UUID(task_id))
        )
        return found.first() is not None


async def test_restore_reaches_the_live_feed_the_reminders_and_the_audit(
    live: LiveServer,
) -> None:
    remind_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    async with httpx.AsyncClient(base_url=live.url) as client:
        token, me = await register(client, live.url)
        async with websockets.connect(f"{live.ws_url}?token={token}") as socket:
            await eventually(lambda: live.container.realtime.hub.count() == 1)
            created = await client.post(
                "/api/tasks",
                headers=me,
                json={"title": "Call the plumber", "remind_at": remind_at.isoformat()},
            )
            task = created.json()
            await _receive(socket, "task.created")
            await _wait_for(lambda: _scheduled(live.container, task["id"]), True)

            await client.delete(f"/api/tasks/{task['id']}", headers=me)
            await _receive(socket, "task.deleted")
            await _wait_for(lambda: _scheduled(live.container, task["id"]), False)

            restored = await client.post(f"/api/tasks/{task['id']}/restore", headers=me)
            assert restored.status_code == 200
            message = await _receive(socket, "task.created")
            assert message["data"]["restored"] is True
            assert message["data"]["task"]["id"] == task["id"]
            assert message["data"]["task"]["version"] == task["version"] + 1
            await _wait_for(lambda: _scheduled(live.container, task["id"]), True)

        async def audited() -> list[str]:
            trail = await client.get(
                "/api/audit", headers=me, params={"resource_id": task["id"], "limit": 100}
            )
            return sorted(entry["event_type"] for entry in trail.json()["items"])

        await _wait_for(
            audited,
            sorted(["task.created", "task.deleted", "task.created", *["reminder.scheduled"] * 2]),
        )


async def _wait_for(read: Any, expected: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await read()) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{found!r} != {expected!r}"
        await asyncio.sleep(0.05)


# -- reopening a completed recurring task ---------------------------------------------


async def _events(container: Container, kind: str) -> list[CloudEvent]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(outbox_table.c.payload)
            .where(outbox_table.c.event_type == kind)
            .order_by(outbox_table.c.id)
        )
        return [CloudEvent.model_validate_json(payload) for (payload,) in rows]


async def _generate(container: Container, completed: CloudEvent) -> None:
    """What the recurring-task service and task-api do with `task.completed`:
    plan the next occurrence, then insert it (the consumers, called directly)."""
    before = len(await _events(container, "task.occurrence.generated"))
    await OccurrenceHandler(container.uow)(completed)
    generated = (await _events(container, "task.occurrence.generated"))[before:]
    assert len(generated) == 1
    await occurrence_subscription(container.uow).handler(generated[0])


async def _series(user: User) -> list[dict[str, Any]]:
    listed = await user.get(
        "/api/tasks", params={"status": "all", "sort_by": "due_at", "sort_order": "asc"}
    )
    return [t for t in listed.json()["items"] if t["title"] == "Stand-up"]


async def test_reopening_withdraws_the_occurrence_already_inserted(
    alice: User, container: Container
) -> None:
    task = await alice.add(
        title="Stand-up",
        due_at="2031-03-03T09:30",
        remind_at="2031-03-03T09:00",
        recurrence_rule="FREQ=WEEKLY;BYDAY=MO",
    )
    await alice.post(f"/api/tasks/{task['id']}/complete")
    [completed] = await _events(container, "task.completed")
    await _generate(container, completed)
    following = [t for t in await _series(alice) if t["id"] != task["id"]]
    assert [t["due_at"] for t in following] == ["2031-03-10T09:30:00-04:00"]

    reopened = await alice.post(f"/api/tasks/{task['id']}/reopen")
    assert reopened.json()["status"] == "active"
    assert [t["id"] for t in await _series(alice)] == [task["id"]]
    [withdrawn] = await _events(container, "task.deleted")
    assert withdrawn.data["task"]["id"] == following[0]["id"]
    assert withdrawn.data["withdrawn_by"] == task["id"]

    # Completing again brings the same next occurrence back, once.
    await alice.post(f"/api/tasks/{task['id']}/complete")
    await _generate(container, (await _events(container, "task.completed"))[-1])
    assert [t["due_at"] for t in await _series(alice)] == [
        "2031-03-03T09:30:00-05:00",
        "2031-03-10T09:30:00-04:00",
    ]


async def test_an_occurrence_still_on_its_way_is_not_inserted_after_a_reopen(
    alice: User, container: Container
) -> None:
    task = await alice.add(
        title="Stand-up", due_at="2031-03-03T09:30", recurrence_rule="FREQ=WEEKLY;BYDAY=MO"
    )
    await alice.post(f"/api/tasks/{task['id']}/complete")
    [completed] = await _events(container, "task.completed")
    await OccurrenceHandler(container.uow)(completed)
    [in_flight] = await _events(container, "task.occurrence.generated")

    await alice.post(f"/api/tasks/{task['id']}/reopen")
    await occurrence_subscription(container.uow).handler(in_flight)
    assert [t["id"] for t in await _series(alice)] == [task["id"]]
    assert [e.data["task"]["id"] for e in await _events(container, "task.created")] == [task["id"]]


async def test_reopening_leaves_a_next_occurrence_that_is_already_done(
    alice: User, container: Container
) -> None:
    task = await alice.add(
        title="Stand-up", due_at="2031-03-03T09:30", recurrence_rule="FREQ=WEEKLY;BYDAY=MO"
    )
    await alice.post(f"/api/tasks/{task['id']}/complete")
    await _generate(container, (await _events(container, "task.completed"))[0])
    [following] = [t for t in await _series(alice) if t["id"] != task["id"]]
    await alice.post(f"/api/tasks/{following['id']}/complete")
    await alice.post(f"/api/tasks/{task['id']}/reopen")
    statuses = {t["id"]: t["status"] for t in await _series(alice)}
    assert statuses == {task["id"]: "active", following["id"]: "completed"}


async def test_reopen_withdraws_the_next_occurrence_through_the_running_services(
    live: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        _, me = await register(client, live.url)
        task = (
            await client.post(
                "/api/tasks",
                headers=me,
                json={
                    "title": "Stand-up",
                    "due_at": "2031-03-03T09:30",
                    "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO",
                },
            )
        ).json()

        async def count() -> int:
            listed = await client.get("/api/tasks", headers=me, params={"status": "all"})
            return int(listed.json()["total"])

        await client.post(f"/api/tasks/{task['id']}/complete", headers=me)
        await _wait_for(count, 2)
        await client.post(f"/api/tasks/{task['id']}/reopen", headers=me)
        assert await count() == 1
