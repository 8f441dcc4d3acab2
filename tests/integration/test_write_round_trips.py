"""What a write sends to PostgreSQL: a new task and its events are one
statement that is its own transaction (no BEGIN, no COMMIT); a unit that did
anything else first keeps it inside its transaction. A change to a task is
a read outside any transaction and one such statement."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.auth import accounts
from services.shared.auth.principal import Principal
from services.shared.db import create_engine
from services.shared.uow import UnitOfWork
from services.tasks import service
from services.tasks.schemas import TaskCreate, TaskPublic, TaskUpdate

# (first word of a statement, whether the server then reported an open transaction block)
Sent = list[tuple[str, bool]]


@pytest.fixture
async def engine(postgres_migrated: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_migrated, pool_size=1)
    yield engine
    await engine.dispose()


async def _user(engine: AsyncEngine) -> Principal:
    async with UnitOfWork(engine) as uow:
        return await accounts.ensure_local_user(uow, email="writer@example.com", timezone="UTC")


async def _user_with_task(engine: AsyncEngine, title: str) -> tuple[Principal, TaskPublic]:
    user = await _user(engine)
    async with UnitOfWork(engine) as uow:
        return user, await service.create_task(uow, user=user, data=TaskCreate(title=title))


def _record(engine: AsyncEngine) -> Sent:
    sent: Sent = []

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        # asyncpg reads the transaction status from the server's ReadyForQuery message.
        in_block = conn.connection.driver_connection.is_in_transaction()
        sent.append((statement.split()[0].upper(), in_block))

    return sent


async def test_a_new_task_and_its_events_are_one_statement(engine: AsyncEngine) -> None:
    user = await _user(engine)
    sent = _record(engine)
    async with UnitOfWork(engine) as uow:
        task = await service.create_task(
            uow, user=user, data=TaskCreate(title="Pay rent", remind_at="2031-01-01T08:00:00")
        )
    assert sent == [("WITH", False)]
    async with UnitOfWork(engine) as uow:
        assert (await uow.tasks.get(user.user_id, task.id)) is not None
        events = await uow.connection.exec_driver_sql(
            f"SELECT event_type FROM outbox WHERE payload LIKE '%{task.id}%' ORDER BY id"
        )
        assert events.scalars().all() == ["task.created", "reminder.scheduled"]


async def test_a_unit_that_read_first_creates_inside_its_transaction(engine: AsyncEngine) -> None:
    user = await _user(engine)
    sent = _record(engine)
    async with UnitOfWork(engine) as uow:
        assert await uow.accounts.local_user() is not None
        await service.create_task(uow, user=user, data=TaskCreate(title="Water the plants"))
    assert [word for word, _ in sent] == ["SELECT", "WITH"]
    assert all(in_block for _, in_block in sent), sent
    async with UnitOfWork(engine) as uow:
        found = await uow.connection.exec_driver_sql(
            "SELECT count(*) FROM tasks WHERE title = 'Water the plants'"
        )
        assert found.scalar_one() == 1


async def test_a_change_is_a_read_and_one_statement(engine: AsyncEngine) -> None:
    user, task = await _user_with_task(engine, "Pay rent")
    sent = _record(engine)
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
    assert sent == [("SELECT", False), ("WITH", False)] * 2
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
    sent = _record(engine)
    async with UnitOfWork(engine) as uow:
        same = await service.update_task(
            uow, user=user, task_id=task.id, data=TaskUpdate(title="Pay rent")
        )
    assert same.version == 1
    assert sent == [("SELECT", False)]
