"""The four services as separate processes (`todo serve --service …`) on the
real Kafka broker and PostgreSQL, each restarted mid-stream with SIGKILL."""

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.audit.trail import audit_logs
from services.bootstrap import bootstrap
from services.composition import process_of
from tests.e2e.processes import SERVICES, Cluster, items, poll, service_env, sign_up
from tests.integration.test_acceptance import Inbox
from testsupport.kafka import start_groups_at_the_end
from testsupport.ports import free_port


@pytest.fixture
async def cluster(
    fresh_postgres: str, kafka: str, key_file: Path, tmp_path: Path, smtp: tuple[Inbox, int]
) -> AsyncIterator[Cluster]:
    prefix = f"e2e4-{uuid.uuid4().hex[:8]}-"
    probe = bootstrap(
        database_url=fresh_postgres,
        event_bus="kafka",
        kafka_group_prefix=prefix,
        jwt_private_key_file=key_file,
        data_dir=tmp_path,
    )
    await start_groups_at_the_end(kafka, process_of(probe).subscriptions, prefix=prefix)
    await probe.aclose()
    env = service_env(
        {
            **os.environ,
            "EVENT_BUS": "kafka",
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "KAFKA_GROUP_PREFIX": prefix,
        },
        database_url=fresh_postgres,
        key_file=key_file,
        data_dir=tmp_path,
        smtp_port=smtp[1],
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Cluster(logs, env=env, ports={s: free_port() for s in SERVICES})
    try:
        for service in SERVICES:
            running.start(service)
        for service in SERVICES:
            await running.ready(service)
        yield running
    finally:
        running.stop_all()


@pytest.mark.timeout(420)
async def test_four_services_over_kafka_survive_restarts(
    cluster: Cluster, smtp: tuple[Inbox, int], fresh_postgres: str
) -> None:
    inbox, _ = smtp
    api, notes_url, audit_url = (
        cluster.url("task-api"),
        cluster.url("notification"),
        cluster.url("audit"),
    )
    async with httpx.AsyncClient(timeout=30) as client:
        _, me = await sign_up(client, api, "four", notes_url=notes_url)

        async def active(q: str) -> list[Any]:
            return await items(client, f"{api}/api/tasks", me, status="active", q=q)

        async def notes() -> list[Any]:
            return await items(client, f"{notes_url}/api/notifications", me)

        # The acceptance path across processes.
        first = (
            await client.post(
                f"{api}/api/tasks",
                headers=me,
                json={
                    "title": "Standup",
                    "due_at": "2030-03-08T09:00:00",
                    "timezone": "America/New_York",
                    "recurrence_rule": "FREQ=DAILY",
                },
            )
        ).json()
        await client.post(f"{api}/api/tasks/{first['id']}/complete", headers=me)
        [nxt] = await poll(lambda: active("standup"))
        assert nxt["due_at"] == "2030-03-09T09:00:00-05:00"
        remind_at = datetime.now(UTC) + timedelta(seconds=3)
        await client.post(
            f"{api}/api/tasks",
            headers=me,
            json={"title": "Call the bank", "remind_at": remind_at.isoformat()},
        )
        await poll(notes)
        assert datetime.now(UTC) >= remind_at
        await poll(lambda: asyncio.sleep(0, result=len(inbox.messages) == 1))
        # Its consumer groups are members, and its metrics say so.
        scraped = (await client.get(f"{cluster.url('recurring-task')}/metrics")).text
        member = r'todo_consumer_group_joining_seconds\{group="e2e4-\w+-recurring-task-reminders"\}'
        assert re.search(f"^{member} 0\\.0$", scraped, re.MULTILINE), scraped

        # recurring-task killed while tasks are completed and reminders come due.
        cluster.kill("recurring-task")
        series = [
            (
                await client.post(
                    f"{api}/api/tasks",
                    headers=me,
                    json={
                        "title": f"Series {n}",
                        "due_at": "2030-05-01T08:00:00",
                        "recurrence_rule": "FREQ=WEEKLY",
                    },
                )
            ).json()
            for n in range(3)
        ]
        for task in series:
            await client.post(f"{api}/api/tasks/{task['id']}/complete", headers=me)
        due = datetime.now(UTC) + timedelta(seconds=2)
        for n in range(3):
            await client.post(
                f"{api}/api/tasks",
                headers=me,
                json={"title": f"Ping {n}", "remind_at": due.isoformat()},
            )
        await asyncio.sleep(3)
        cluster.start("recurring-task")
        await cluster.ready("recurring-task")
        for n in range(3):
            found = await poll(lambda n=n: active(f"series {n}"))
            assert len(found) == 1
        await poll(lambda: _count(notes, 4))
        # Every email sent before the kill (a kill mid-send would resend one).
        await poll(lambda: asyncio.sleep(0, result=len(inbox.messages) == 4))

        # notification killed while reminders come due, then restarted.
        cluster.kill("notification")
        due = datetime.now(UTC) + timedelta(seconds=2)
        for n in range(2):
            await client.post(
                f"{api}/api/tasks",
                headers=me,
                json={"title": f"Late {n}", "remind_at": due.isoformat()},
            )
        await asyncio.sleep(3)
        cluster.start("notification")
        await cluster.ready("notification")
        await poll(lambda: _count(notes, 6))

        # audit killed and restarted: every event still recorded exactly once.
        cluster.kill("audit")
        await client.patch(f"{api}/api/tasks/{first['id']}", headers=me, json={"priority": "low"})
        cluster.start("audit")
        await cluster.ready("audit")
        trail = await poll(lambda: _audit_has(client, audit_url, me, first["id"]))
        assert trail

        await asyncio.sleep(2)  # anything doubled would have arrived by now
        for n in range(3):
            assert len(await active(f"series {n}")) == 1
        titles = sorted(n["title"] for n in await notes())
        assert titles == sorted(["Call the bank", "Ping 0", "Ping 1", "Ping 2", "Late 0", "Late 1"])
        # One mail per reminder. Email is at least once: a resend after a crash
        # carries the same Message-ID, which a receiver drops.
        assert len({m["Message-ID"] for m in inbox.messages}) == 6

        # Account deletion reaches every service.
        user_id = (await client.get(f"{api}/api/auth/me", headers=me)).json()["id"]
        assert (await client.delete(f"{api}/api/auth/me", headers=me)).status_code == 204
        for url in (api, notes_url, audit_url):
            probe = await client.get(
                f"{url}/api/audit"
                if url == audit_url
                else f"{url}/api/notifications"
                if url == notes_url
                else f"{url}/api/tasks",
                headers=me,
            )
            assert probe.status_code == 401, url
        await poll(lambda: _forgotten(fresh_postgres, user_id))
    engine = create_async_engine(fresh_postgres)
    try:
        async with engine.connect() as conn:
            doubled = (
                await conn.execute(
                    sa.select(audit_logs.c.event_id)
                    .group_by(audit_logs.c.event_id, audit_logs.c.topic)
                    .having(sa.func.count() > 1)
                )
            ).all()
    finally:
        await engine.dispose()
    assert doubled == []


async def _count(notes: Any, expected: int) -> bool:
    found = await notes()
    assert len(found) <= expected, [n["title"] for n in found]
    return len(found) == expected


async def _audit_has(client: httpx.AsyncClient, url: str, me: dict[str, str], task_id: str) -> bool:
    page = (
        await client.get(
            f"{url}/api/audit", headers=me, params={"resource_id": task_id, "limit": 100}
        )
    ).json()
    types = [e["event_type"] for e in page["items"]]
    return types.count("task.updated") == 1 and "task.completed" in types


async def _forgotten(url: str, user_id: str) -> bool:
    """Nothing of the user is left but the redacted audit trail."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            left = 0
            for table in (
                "tasks",
                "notifications",
                "notification_preferences",
                "reminder_schedule",
                "personal_access_tokens",
                "conversations",
            ):
                left += int(
                    (
                        await conn.execute(
                            sa.text(f"SELECT count(*) FROM {table} WHERE user_id = :u"),
                            {"u": uuid.UUID(user_id)},
                        )
                    ).scalar_one()
                )
            kept = (
                await conn.execute(
                    sa.select(audit_logs.c.event_type, audit_logs.c.metadata).where(
                        audit_logs.c.actor_id == user_id
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    redacted = all(m == {"redacted": "account deleted"} for t, m in kept if t != "user.deleted")
    return left == 0 and bool(kept) and redacted
