"""Reminders on the Dapr Jobs API (REMINDER_SCHEDULER=dapr-jobs), through the four services
behind real daprd sidecars and a real Dapr scheduler: a reminder fires once when due, a
moved reminder fires at its new time, a deleted or completed task's job goes away, a
redelivered trigger publishes nothing, and reminders due while the scheduler was down fire
once it is back."""

import uuid
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest
import sqlalchemy as sa
from dapr.aio.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError
from sqlalchemy.ext.asyncio import create_async_engine

from events.dapr import open_sdk_client
from services.recurring.reminders import job_name
from tests.e2e.dapr.conftest import DaprCluster
from tests.e2e.processes import items, poll, sign_up


@pytest.fixture
def reminder_scheduler() -> str:
    return "dapr-jobs"


@pytest.fixture
async def jobs(dapr_cluster: DaprCluster) -> AsyncIterator[DaprClient]:
    """The SDK on the recurring-task service's sidecar: its jobs are that app id's."""
    sidecars = dapr_cluster.sidecars
    client = open_sdk_client(
        http_port=sidecars.http["recurring-task"], grpc_port=sidecars.grpc["recurring-task"]
    )
    yield client
    await client.close()  # type: ignore[no-untyped-call]


async def job_exists(jobs: DaprClient, task_id: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the Jobs API is alpha
        try:
            await jobs.get_job_alpha1(job_name(uuid.UUID(task_id)))
        except DaprGrpcError as exc:
            missing = exc.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[no-untyped-call]
            if missing or "not found" in str(exc.details()).lower():  # type: ignore[no-untyped-call]
                return False
            raise
    return True


class Reminders:
    """The reminder side of one user: tasks, notifications and what was published."""

    def __init__(self, client: httpx.AsyncClient, cluster: DaprCluster, me: dict[str, str]):
        self.client = client
        self.api = cluster.apps.url("task-api")
        self.notes_url = cluster.apps.url("notification")
        self.me = me
        self.engine = create_async_engine(cluster.database_url)

    async def create(self, title: str, remind_at: datetime) -> str:
        created = await self.client.post(
            f"{self.api}/api/tasks",
            headers=self.me,
            json={"title": title, "remind_at": remind_at.isoformat()},
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    async def notes(self) -> list[Any]:
        return await items(self.client, f"{self.notes_url}/api/notifications", self.me)

    async def titles(self) -> list[str]:
        return sorted(n["title"] for n in await self.notes())

    async def published(self, task_id: str) -> int:
        """How many `reminder.triggered` of this task went to the outbox."""
        async with self.engine.connect() as conn:
            count = await conn.scalar(
                sa.text(
                    "SELECT count(*) FROM outbox WHERE event_type = 'reminder.triggered' "
                    "AND payload LIKE :task"
                ),
                {"task": f"%{task_id}%"},
            )
        return int(count or 0)


@pytest.fixture
async def reminders(dapr_cluster: DaprCluster) -> AsyncIterator[Reminders]:
    async with httpx.AsyncClient(timeout=30) as client:
        _, me = await sign_up(
            client,
            dapr_cluster.apps.url("task-api"),
            "jobs",
            notes_url=dapr_cluster.apps.url("notification"),
        )
        side = Reminders(client, dapr_cluster, me)
        yield side
        await side.engine.dispose()


async def clock_past(instant: datetime) -> None:
    async def passed() -> bool:
        return datetime.now(UTC) > instant

    await poll(passed, timeout=120)


@pytest.mark.timeout(240)
async def test_a_reminder_fires_once_and_a_repeated_trigger_publishes_nothing(
    dapr_cluster: DaprCluster, jobs: DaprClient, reminders: Reminders
) -> None:
    remind_at = datetime.now(UTC) + timedelta(seconds=4)
    task = await reminders.create("Call the bank", remind_at)
    [note] = await poll(reminders.notes, timeout=90)
    assert note["title"] == "Call the bank"
    # Fired by its job: the one-shot job is gone once the trigger succeeded.
    await poll(lambda: _negate(job_exists(jobs, task)), timeout=60)
    assert await reminders.published(task) == 1
    # daprd delivering the same trigger again (a retry after a lost answer) fires nothing.
    recurring = dapr_cluster.apps.url("recurring-task")
    again = await reminders.client.post(
        f"{recurring}/job/{job_name(uuid.UUID(task))}",
        json={"task_id": task, "remind_at": remind_at.isoformat()},
    )
    assert again.status_code == 200, again.text
    assert await reminders.published(task) == 1
    # Data no reminder job carries is refused, saying what is wrong.
    bad = await reminders.client.post(f"{recurring}/job/{job_name(uuid.UUID(task))}", json=[1])
    assert bad.status_code == 400
    assert "JSON object" in bad.json()["detail"]
    # A trigger well before the reminder's time did not come from the scheduler.
    later = await reminders.create("Later", datetime.now(UTC) + timedelta(hours=1))
    early = await reminders.client.post(
        f"{recurring}/job/{job_name(uuid.UUID(later))}",
        json={"task_id": later, "remind_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
    )
    assert early.status_code == 409, early.text
    assert await reminders.published(later) == 0
    assert [n["title"] for n in await reminders.notes()] == ["Call the bank"]


async def _negate(check: Any) -> bool:
    return not await check


@pytest.mark.timeout(240)
async def test_moving_deleting_and_completing_reschedule_or_remove_the_job(
    dapr_cluster: DaprCluster, jobs: DaprClient, reminders: Reminders
) -> None:
    client, api, me = reminders.client, reminders.api, reminders.me
    far = datetime.now(UTC) + timedelta(hours=2)
    moved = await reminders.create("Moved", far)
    # Hours away: only their deletion can take their jobs away within the test.
    deleted = await reminders.create("Deleted", far)
    completed = await reminders.create("Completed", far)
    for task in (moved, deleted, completed):
        await poll(lambda task=task: job_exists(jobs, task), timeout=60)

    gone = await client.delete(f"{api}/api/tasks/{deleted}", headers=me)
    assert gone.status_code == 204, gone.text
    done = await client.post(f"{api}/api/tasks/{completed}/complete", headers=me)
    assert done.status_code == 200, done.text
    soon = datetime.now(UTC) + timedelta(seconds=8)
    patched = await client.patch(
        f"{api}/api/tasks/{moved}", headers=me, json={"remind_at": soon.isoformat()}
    )
    assert patched.status_code == 200, patched.text

    await poll(lambda: _negate(job_exists(jobs, deleted)), timeout=60)
    await poll(lambda: _negate(job_exists(jobs, completed)), timeout=60)
    # The moved reminder fires at its new time, two hours early: its job was rescheduled.
    await poll(reminders.notes, timeout=90)
    assert await reminders.titles() == ["Moved"]
    await poll(lambda: _negate(job_exists(jobs, moved)), timeout=60)
    assert [await reminders.published(t) for t in (moved, deleted, completed)] == [1, 0, 0]


@pytest.mark.timeout(300)
async def test_reminders_due_while_the_scheduler_is_down_fire_once_it_is_back(
    dapr_cluster: DaprCluster, jobs: DaprClient, reminders: Reminders
) -> None:
    start = datetime.now(UTC) + timedelta(seconds=10)
    titles = [f"Pending {i}" for i in range(5)]
    tasks = [
        await reminders.create(title, start + timedelta(seconds=i))
        for i, title in enumerate(titles)
    ]
    for task in tasks:
        await poll(lambda task=task: job_exists(jobs, task), timeout=60)
    dapr_cluster.scheduler.stop()
    try:
        await clock_past(start + timedelta(seconds=len(tasks) + 2))
        assert await reminders.notes() == []  # nothing fires without the scheduler
    finally:
        dapr_cluster.scheduler.start()
    await dapr_cluster.scheduler.ready()

    async def all_fired() -> bool:
        return len(await reminders.notes()) >= len(titles)

    await poll(all_fired, timeout=120)
    for task in tasks:
        await poll(lambda task=task: _negate(job_exists(jobs, task)), timeout=60)
    assert await reminders.titles() == titles
    assert [await reminders.published(t) for t in tasks] == [1] * len(tasks)


@pytest.mark.timeout(240)
async def test_a_pending_reminder_without_a_job_gets_one_when_the_service_starts(
    dapr_cluster: DaprCluster, jobs: DaprClient, reminders: Reminders
) -> None:
    """As after a switch from `builtin`, or a scheduler that lost its data."""
    remind_at = datetime.now(UTC) + timedelta(seconds=25)
    task = await reminders.create("Water the plants", remind_at)
    await poll(lambda: job_exists(jobs, task), timeout=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        await jobs.delete_job_alpha1(job_name(uuid.UUID(task)))
    assert not await job_exists(jobs, task)
    apps = dapr_cluster.apps
    apps.kill("recurring-task")
    apps.start("recurring-task")
    await apps.ready("recurring-task")
    await poll(lambda: job_exists(jobs, task), timeout=60)
    [note] = await poll(reminders.notes, timeout=90)
    assert note["title"] == "Water the plants"
    await poll(lambda: _negate(job_exists(jobs, task)), timeout=60)
    assert await reminders.published(task) == 1
