"""The product's acceptance path, written once for every way the system is deployed
(compose, the cluster): the same requests and the same checks, given where each API
answers."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.e2e.processes import items, poll


@dataclass(frozen=True)
class Apis:
    """Where task-api, notification and audit answer (one URL behind a gateway)."""

    tasks: str
    notes: str
    audit: str


async def trail(
    client: httpx.AsyncClient, apis: Apis, me: dict[str, str], task_id: str
) -> list[str]:
    """The audit trail's event types for one task."""
    page = await client.get(
        f"{apis.audit}/api/audit", headers=me, params={"resource_id": task_id, "limit": 100}
    )
    assert page.status_code == 200, page.text
    return [e["event_type"] for e in page.json()["items"]]


async def pay_rent_every_month(
    client: httpx.AsyncClient, apis: Apis, me: dict[str, str], timeout: float = 90
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A monthly high-priority task with a reminder: the reminder reaches the in-app
    inbox once and not before it is due; completing the task yields next month's
    occurrence; the audit trail holds the creation, the completion and the generated
    occurrence. The first task and the next one."""
    due = datetime.now(UTC) + timedelta(seconds=4)
    created = await client.post(
        f"{apis.tasks}/api/tasks",
        headers=me,
        json={
            "title": "Pay rent",
            "due_at": "2031-01-01T09:00:00",
            "timezone": "America/New_York",
            "recurrence_rule": "FREQ=MONTHLY;BYMONTHDAY=1",
            "priority": "high",
            "remind_at": due.isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    first: dict[str, Any] = created.json()

    notes = await poll(lambda: items(client, f"{apis.notes}/api/notifications", me), timeout)
    assert datetime.now(UTC) >= due
    assert [n["title"] for n in notes] == ["Pay rent"]

    done = await client.post(f"{apis.tasks}/api/tasks/{first['id']}/complete", headers=me)
    assert done.status_code == 200, done.text

    async def next_one() -> list[Any]:
        listed = await items(client, f"{apis.tasks}/api/tasks", me, status="active", q="pay rent")
        return [t for t in listed if t["id"] != first["id"]]

    [nxt] = await poll(next_one, timeout)
    assert nxt["due_at"] == "2031-02-01T09:00:00-05:00"
    assert nxt["priority"] == "high"

    async def audited() -> list[str] | None:
        types = await trail(client, apis, me, first["id"])
        wanted = {"task.created", "task.completed", "task.occurrence.generated"}
        return types if wanted <= set(types) else None

    types = await poll(audited, timeout)
    assert types.count("task.completed") == 1

    # The next occurrence's own entry: task-api creates it after the audit saw the
    # series' `task.occurrence.generated`, so it arrives a moment later.
    async def audited_next() -> list[str] | None:
        return await trail(client, apis, me, nxt["id"]) or None

    assert "task.created" in await poll(audited_next, timeout)
    return first, nxt
