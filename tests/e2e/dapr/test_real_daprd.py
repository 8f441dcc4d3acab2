"""The acceptance path through the four services, each behind its own real daprd
(tests/e2e/dapr/conftest.py): a recurring task's next occurrence, the audit trail, and a
reminder by in-app notification and email."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.dapr.conftest import DaprCluster
from tests.e2e.processes import items, poll, sign_up
from tests.integration.test_acceptance import Inbox


@pytest.mark.timeout(180)
async def test_recurring_task_and_reminder_through_daprd(
    dapr_cluster: DaprCluster, smtp: tuple[Inbox, int]
) -> None:
    cluster = dapr_cluster.apps
    inbox, _ = smtp
    api, notes_url, audit_url = (
        cluster.url("task-api"),
        cluster.url("notification"),
        cluster.url("audit"),
    )
    async with httpx.AsyncClient(timeout=30) as client:
        email, me = await sign_up(client, api, "dapr", notes_url=notes_url)

        async def active(q: str) -> list[Any]:
            return await items(client, f"{api}/api/tasks", me, status="active", q=q)

        async def notes() -> list[Any]:
            return await items(client, f"{notes_url}/api/notifications", me)

        created = await client.post(
            f"{api}/api/tasks",
            headers=me,
            json={
                "title": "Standup",
                "due_at": "2030-03-08T09:00:00",
                "timezone": "America/New_York",
                "recurrence_rule": "FREQ=DAILY",
            },
        )
        assert created.status_code == 201, created.text
        first = created.json()
        done = await client.post(f"{api}/api/tasks/{first['id']}/complete", headers=me)
        assert done.status_code == 200, done.text
        [nxt] = await poll(lambda: active("standup"))
        assert nxt["due_at"] == "2030-03-09T09:00:00-05:00"

        async def trail() -> list[str]:
            page = (
                await client.get(
                    f"{audit_url}/api/audit", headers=me, params={"resource_id": first["id"]}
                )
            ).json()
            types = [e["event_type"] for e in page["items"]]
            return types if "task.completed" in types else []

        types = await poll(trail)
        assert "task.created" in types

        remind_at = datetime.now(UTC) + timedelta(seconds=3)
        reminded = await client.post(
            f"{api}/api/tasks",
            headers=me,
            json={"title": "Call the bank", "remind_at": remind_at.isoformat()},
        )
        assert reminded.status_code == 201, reminded.text
        [note] = await poll(notes)
        assert note["title"] == "Call the bank"
        await poll(lambda: asyncio.sleep(0, result=len(inbox.messages) == 1))
        assert email in inbox.messages[0]["To"]
