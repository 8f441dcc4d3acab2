"""The system in one process over the real Kafka broker and PostgreSQL,
including a broker crash in the middle of traffic."""

import asyncio
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from events import CloudEvent, Topic
from events.breaker import BreakerState
from events.bus import Subscription
from services.audit.trail import audit_logs
from services.bootstrap import Container
from tests.conftest import LiveServer, serve_app
from tests.integration.events.test_event_flow import eventually, register

KAFKA_SH = Path(__file__).resolve().parents[2] / "scripts" / "kafka.sh"


@pytest.fixture
async def system(kafka_container: Container) -> AsyncIterator[LiveServer]:
    async for server in serve_app(kafka_container):
        yield server


async def get(client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(url, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_recurring_completion_reminder_and_audit_over_kafka(system: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=system.url, timeout=30) as client:
        _, me = await register(client, system.url)
        series = (
            await client.post(
                "/api/tasks",
                headers=me,
                json={
                    "title": "Standup",
                    "due_at": "2030-03-08T09:00:00",
                    "timezone": "America/New_York",
                    "recurrence_rule": "FREQ=DAILY",
                },
            )
        ).json()
        remind_at = datetime.now(UTC) + timedelta(seconds=4)
        await client.post(
            "/api/tasks",
            headers=me,
            json={"title": "Call the bank", "remind_at": remind_at.isoformat()},
        )
        await client.post(f"/api/tasks/{series['id']}/complete", headers=me)

        async def active_standups() -> list[Any]:
            page = await get(client, "/api/tasks", me, status="active", q="standup")
            return list(page["items"])

        for _ in range(600):
            if await active_standups():
                break
            await asyncio.sleep(0.05)
        [following] = await active_standups()
        assert following["due_at"] == "2030-03-09T09:00:00-05:00"
        for _ in range(600):
            if (await get(client, "/api/notifications", me))["total"]:
                break
            await asyncio.sleep(0.05)
        assert datetime.now(UTC) >= remind_at
        assert (await get(client, "/api/notifications", me))["items"][0]["title"] == "Call the bank"
        for _ in range(600):
            trail = await get(client, "/api/audit", me, limit=100)
            types = {e["event_type"] for e in trail["items"]}
            if {
                "task.created",
                "task.completed",
                "task.occurrence.generated",
                "reminder.triggered",
                "notification.sent",
            } <= types:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"audit trail incomplete: {types}")
        assert (await get(client, "/readyz", {}))["bus"] == "kafka"


class Recorder:
    def __init__(self) -> None:
        self.events: list[CloudEvent] = []

    async def __call__(self, event: CloudEvent) -> None:
        self.events.append(event)


def kafka_sh(command: str) -> None:
    subprocess.run(  # noqa: S603 - our own script
        ["bash", str(KAFKA_SH), command],  # noqa: S607 - bash from PATH, like make does
        check=True,
        capture_output=True,
        timeout=180,
    )


@pytest.mark.timeout(400)
async def test_a_broker_crash_delays_delivery_and_loses_nothing(
    kafka_container: Container,
) -> None:
    recorder = Recorder()
    kafka_container.extra_subscriptions.append(
        Subscription(Topic.TASK_EVENTS, "e2e-recorder", recorder)
    )
    from testsupport.kafka import start_groups_at_the_end

    await start_groups_at_the_end(
        kafka_container.settings.kafka_bootstrap_servers,
        kafka_container.extra_subscriptions,
        prefix=kafka_container.settings.kafka_group_prefix,
    )
    relay = kafka_container.relay
    async for server in serve_app(kafka_container):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            users = [(await register(client, server.url))[1] for _ in range(3)]

            async def edits(headers: dict[str, str], rounds: int) -> None:
                task = (
                    await client.post("/api/tasks", headers=headers, json={"title": "v0"})
                ).json()
                for n in range(1, rounds):
                    response = await client.patch(
                        f"/api/tasks/{task['id']}", headers=headers, json={"title": f"v{n}"}
                    )
                    assert response.status_code == 200, response.text  # the API keeps answering
                    await asyncio.sleep(0.05)

            await asyncio.gather(*(edits(h, 5) for h in users))
            await eventually(lambda: len(recorder.events) >= 15, timeout=60)
            kafka_sh("kill")
            try:
                await asyncio.gather(*(edits(h, 12) for h in users))
                lag = await relay.lag()
                assert lag.pending > 0  # the outbox grows while the broker is down
                await eventually(lambda: relay.breaker.state is not BreakerState.CLOSED, timeout=60)
            finally:
                kafka_sh("start")
            await eventually(lambda: relay.breaker.state is BreakerState.CLOSED, timeout=120)
            await eventually(lambda: len({e.id for e in recorder.events}) == 15 + 36, timeout=120)
            assert (await relay.lag()).pending == 0
            counts = await audited(kafka_container, 51)
    # Per user, the first delivery of each event comes in commit order.
    for headers in users:
        seen: list[tuple[str, int]] = []
        for event in recorder.events:
            if event.userid == headers["X-User"]:
                key = (event.data["task"]["id"], event.data["task"]["version"])
                if key not in seen:
                    seen.append(key)
        for task_id in {k[0] for k in seen}:
            versions = [v for t, v in seen if t == task_id]
            assert versions == sorted(versions)
    # The audit consumer applied each event exactly once.
    assert len(counts) == 51
    assert all(n == 1 for _, n in counts)


async def audited(container: Container, expected: int) -> list[Any]:
    """Audit rows of task-events by event id, once the audit consumer (its own
    group, its own pace) has caught up or a minute has passed."""
    for _ in range(600):
        async with container.engine.connect() as conn:
            counts = list(
                (
                    await conn.execute(
                        sa.select(audit_logs.c.event_id, sa.func.count())
                        .where(audit_logs.c.topic == "task-events")
                        .group_by(audit_logs.c.event_id)
                    )
                ).all()
            )
        if len(counts) >= expected:
            break
        await asyncio.sleep(0.1)
    return counts
