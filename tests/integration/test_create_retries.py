"""A create sent again after its answer was lost (a dropped connection, a
replica killed after its commit): with an id the client chose, the second
request finds the task instead of adding it twice, on SQLite and PostgreSQL."""

import asyncio
import uuid

from services.bootstrap import Container
from tests.conftest import MakeUser, User, outbox_events, sent_statements

RENT = {
    "title": "Pay rent",
    "priority": "high",
    "tags": ["home"],
    "due_at": "2030-01-01T09:00:00",
    "remind_at": "2030-01-01T08:00:00",
    "recurrence_rule": "FREQ=MONTHLY;BYMONTHDAY=1",
}


async def _events(container: Container, task_id: str) -> list[str]:
    return [e.type for e in await outbox_events(container, task_id)]


async def _titles(user: User) -> list[str]:
    listed = await user.get("/api/tasks")
    assert listed.status_code == 200, listed.text
    return [t["title"] for t in listed.json()["items"]]


async def test_a_create_sent_again_with_its_id_finds_the_task(
    alice: User, container: Container
) -> None:
    task_id = str(uuid.uuid4())
    first = await alice.post("/api/tasks", json={"id": task_id, **RENT})
    assert first.status_code == 201, first.text
    assert first.json()["id"] == task_id
    again = await alice.post("/api/tasks", json={"id": task_id, **RENT})
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.headers["location"] == f"/api/tasks/{task_id}"
    assert again.headers["etag"] == '"1"'
    assert await _titles(alice) == ["Pay rent"]
    assert await _events(container, task_id) == ["task.created", "reminder.scheduled"]


async def test_a_create_sent_again_after_the_task_was_completed_finds_it(alice: User) -> None:
    task_id = str(uuid.uuid4())
    assert (await alice.post("/api/tasks", json={"id": task_id, "title": "Call mum"})).is_success
    assert (await alice.post(f"/api/tasks/{task_id}/complete")).status_code == 200
    again = await alice.post("/api/tasks", json={"id": task_id, "title": "Call mum"})
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "completed"


async def test_the_same_id_with_other_fields_is_a_conflict_that_says_what_to_do(
    alice: User, container: Container
) -> None:
    task_id = str(uuid.uuid4())
    assert (await alice.post("/api/tasks", json={"id": task_id, **RENT})).status_code == 201
    other = await alice.post("/api/tasks", json={"id": task_id, **RENT, "priority": "low"})
    assert other.status_code == 409, other.text
    assert f"PATCH /api/tasks/{task_id}" in other.json()["detail"]
    fetched = (await alice.get(f"/api/tasks/{task_id}")).json()
    assert fetched["priority"] == "high"
    assert fetched["version"] == 1
    assert await _events(container, task_id) == ["task.created", "reminder.scheduled"]


async def test_an_id_of_another_users_task_is_taken(
    alice: User, make_user: MakeUser, container: Container
) -> None:
    bob = await make_user()
    task_id = str(uuid.uuid4())
    assert (await alice.post("/api/tasks", json={"id": task_id, **RENT})).status_code == 201
    taken = await bob.post("/api/tasks", json={"id": task_id, **RENT})
    assert taken.status_code == 409, taken.text
    assert "choose another" in taken.json()["detail"]
    assert await _titles(bob) == []
    assert (await bob.get(f"/api/tasks/{task_id}")).status_code == 404
    assert (await alice.get(f"/api/tasks/{task_id}")).json()["version"] == 1
    assert await _events(container, task_id) == ["task.created", "reminder.scheduled"]


async def test_a_create_sent_again_after_the_task_was_deleted_does_not_bring_it_back(
    alice: User,
) -> None:
    task_id = str(uuid.uuid4())
    assert (await alice.post("/api/tasks", json={"id": task_id, "title": "Old"})).is_success
    assert (await alice.delete(f"/api/tasks/{task_id}")).status_code == 204
    again = await alice.post("/api/tasks", json={"id": task_id, "title": "Old"})
    assert again.status_code == 409, again.text
    assert f"POST /api/tasks/{task_id}/restore" in again.json()["detail"]
    assert await _titles(alice) == []
    restored = await alice.post(f"/api/tasks/{task_id}/restore")
    assert restored.status_code == 200, restored.text


async def test_simultaneous_creates_with_one_id_make_one_task(
    alice: User, container: Container
) -> None:
    task_id = str(uuid.uuid4())
    answers = await asyncio.gather(
        *(alice.post("/api/tasks", json={"id": task_id, **RENT}) for _ in range(8))
    )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [a.text for a in answers]
    assert len({a.text for a in answers}) == 1
    assert await _titles(alice) == ["Pay rent"]
    assert await _events(container, task_id) == ["task.created", "reminder.scheduled"]


async def test_a_malformed_id_is_refused_by_name(alice: User) -> None:
    bad = await alice.post("/api/tasks", json={"id": "rent-1", "title": "Pay rent"})
    assert bad.status_code == 422, bad.text
    assert "id" in bad.text
    assert await _titles(alice) == []


async def test_a_create_with_its_id_checks_for_a_deleted_task_in_the_statement_that_writes_it(
    alice: User, container: Container
) -> None:
    """On PostgreSQL the deleted-id check costs no round trip of its own: the task,
    its events and the check are one statement (SQLite reads first, in the same
    transaction)."""
    async with sent_statements(container.engine) as sent:
        task_id = str(uuid.uuid4())
        created = await alice.post("/api/tasks", json={"id": task_id, **RENT})
    statements = [s.text for s in sent]
    assert created.status_code == 201, created.text
    touching = [s for s in statements if "deleted_tasks" in s or "INSERT INTO tasks" in s]
    if container.settings.database_url.startswith("postgresql"):
        assert len(touching) == 1, touching
        assert "INSERT INTO outbox" in touching[0]
    else:
        assert [s.split()[0] for s in touching] == ["SELECT", "INSERT"], touching
    assert await _events(container, task_id) == ["task.created", "reminder.scheduled"]
