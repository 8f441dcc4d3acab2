"""What a write sends to PostgreSQL: a new task and its events are one
statement that is its own transaction (no BEGIN, no COMMIT); a unit that did
anything else first keeps it inside its transaction. A change to a task is
a read outside any transaction and one such statement. Recorded on the wire's
side of SQLAlchemy too: a statement that is its own transaction goes to the
driver directly."""

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.auth import accounts
from services.shared.auth.principal import Principal
from services.shared.db import create_engine
from services.shared.uow import UnitOfWork
from services.tasks import service
from services.tasks.schemas import TaskCreate, TaskPublic, TaskUpdate
from tests.conftest import Sent, sent_statements


def _words(sent: list[Sent]) -> list[tuple[str, bool]]:
    """Each statement's first word, and whether a transaction was open after it."""
    return [(s.text.split()[0].rstrip(";").upper(), s.in_transaction) for s in sent]


@pytest.fixture
async def engine(postgres_migrated: str) -> AsyncIterator[AsyncEngine]:
    """One pooled connection that has run each kind of write once, as a server's
    have: what a test records is the write's own statements, not the driver's
    one-time lookups of the types a statement uses on a new connection."""
    engine = create_engine(postgres_migrated, pool_size=1)
    user, task = await _user_with_task(engine, "Warm-up")
    async with UnitOfWork(engine) as uow:
        assert await uow.accounts.local_user() is not None
        await service.create_task(uow, user=user, data=TaskCreate(title="Warm-up, read first"))
    async with UnitOfWork(engine) as uow:
        await service.update_task(
            uow, user=user, task_id=task.id, data=TaskUpdate(remind_at="2031-01-01T08:00:00")
        )
    async with UnitOfWork(engine) as uow:
        await service.complete_task(uow, user=user, task_id=task.id)
    yield engine
    await engine.dispose()


async def _user(engine: AsyncEngine) -> Principal:
    async with UnitOfWork(engine) as uow:
        return await accounts.ensure_local_user(uow, email="writer@example.com", timezone="UTC")


async def _user_with_task(engine: AsyncEngine, title: str) -> tuple[Principal, TaskPublic]:
    user = await _user(engine)
    async with UnitOfWork(engine) as uow:
        return user, await service.create_task(uow, user=user, data=TaskCreate(title=title))


async def test_a_new_task_and_its_events_are_one_statement(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with sent_statements(engine) as sent, UnitOfWork(engine) as uow:
        task = await service.create_task(
            uow, user=user, data=TaskCreate(title="Pay rent", remind_at="2031-01-01T08:00:00")
        )
    assert _words(sent) == [("WITH", False)]
    async with UnitOfWork(engine) as uow:
        assert (await uow.tasks.get(user.user_id, task.id)) is not None
        events = await uow.connection.exec_driver_sql(
            f"SELECT event_type FROM outbox WHERE payload LIKE '%{task.id}%' ORDER BY id"
        )
        assert events.scalars().all() == ["task.created", "reminder.scheduled"]


async def test_a_unit_that_read_first_creates_inside_its_transaction(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with sent_statements(engine) as sent, UnitOfWork(engine) as uow:
        assert await uow.accounts.local_user() is not None
        await service.create_task(uow, user=user, data=TaskCreate(title="Water the plants"))
    assert _words(sent) == [("BEGIN", True), ("SELECT", True), ("WITH", True), ("COMMIT", False)]
    async with UnitOfWork(engine) as uow:
        found = await uow.connection.exec_driver_sql(
            "SELECT count(*) FROM tasks WHERE title = 'Water the plants'"
        )
        assert found.scalar_one() == 1


async def test_a_write_alone_that_goes_through_sqlalchemy_is_committed(
    engine: AsyncEngine,
) -> None:
    # Only a statement sent to the driver commits as it runs; one through
    # SQLAlchemy begins a transaction, which `run_alone` commits.
    user, task = await _user_with_task(engine, "Alone")
    rename = sa.text("UPDATE tasks SET title = 'Alone, renamed' WHERE id = :id")
    async with sent_statements(engine) as sent, UnitOfWork(engine) as uow:
        await uow.run_alone(uow.connection.execute(rename, {"id": task.id}))
        assert not uow.connection.in_transaction()
    assert _words(sent) == [("BEGIN", True), ("UPDATE", True), ("COMMIT", False)]
    async with UnitOfWork(engine) as uow:
        found = await uow.tasks.get(user.user_id, task.id)
        assert found is not None
        assert found.title == "Alone, renamed"


async def test_a_change_is_a_read_and_one_statement(engine: AsyncEngine) -> None:
    user, task = await _user_with_task(engine, "Pay rent")
    async with sent_statements(engine) as sent:
        async with UnitOfWork(engine) as uow:
            await service.update_task(
                uow,
                user=user,
                task_id=task.id,
                data=TaskUpdate(priority="high", remind_at="2031-01-01T08:00:00"),
            )
        async with UnitOfWork(engine) as uow:
            await service.complete_task(uow, user=user, task_id=task.id)
    # No BEGIN or COMMIT: the read is outside any transaction, the write is its own.
    assert _words(sent) == [("SELECT", False), ("WITH", False)] * 2
    async with UnitOfWork(engine) as uow:
        saved = await uow.tasks.get(user.user_id, task.id)
        assert saved is not None
        assert (saved.version, saved.priority.value, saved.status.value) == (3, "high", "completed")
        events = await uow.connection.exec_driver_sql(
            f"SELECT event_type FROM outbox WHERE payload LIKE '%{task.id}%' ORDER BY id"
        )
        assert events.scalars().all() == [
            "task.created",
            "task.updated",
            "reminder.scheduled",
            "task.completed",
        ]


async def test_a_change_that_finds_nothing_to_do_writes_nothing(engine: AsyncEngine) -> None:
    user, task = await _user_with_task(engine, "Pay rent")
    async with sent_statements(engine) as sent, UnitOfWork(engine) as uow:
        same = await service.update_task(
            uow, user=user, task_id=task.id, data=TaskUpdate(title="Pay rent")
        )
    assert same.version == 1
    assert _words(sent) == [("SELECT", False)]
