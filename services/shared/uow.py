"""Unit of work: one transaction; its commit writes the rows and their events.

    async with container.uow() as uow:
        ...change things, uow.emit(event)...
        await uow.commit()

Leaving the block without `commit()` rolls everything back, events included.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events import CloudEvent, outbox_rows, write_outbox
from services.shared.auth.oauth_store import OAuthStore
from services.shared.auth.store import AccountStore
from services.shared.db import statement_alone
from services.tasks.domain.model import Task
from services.tasks.repository import TaskRepository

# ("user", id): who a user is or whether their tokens work changed;
# ("grant", id): a connected client's grant was revoked.
PrincipalChange = tuple[str, uuid.UUID]
T = TypeVar("T")


class UnitOfWork:
    tasks: TaskRepository
    accounts: AccountStore
    oauth: OAuthStore

    def __init__(
        self,
        engine: AsyncEngine,
        on_commit: Callable[[], None] | None = None,
        on_principals_changed: Callable[[Sequence[PrincipalChange]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._on_commit = on_commit
        self._on_principals_changed = on_principals_changed
        self._principal_changes: list[PrincipalChange] = []
        self._events: list[CloudEvent] = []
        self._wrote_events = False
        self._conn: AsyncConnection | None = None
        self._reading = False

    async def __aenter__(self) -> Self:
        # The transaction begins with the first statement (SQLAlchemy's autobegin):
        # a unit whose only write is one statement can run it as its own
        # transaction (`add_tasks_and_commit`).
        self._conn = await self._engine.connect()
        self._reading = self._engine.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        self.tasks = TaskRepository(self._conn)
        self.accounts = AccountStore(self._conn)
        self.oauth = OAuthStore(self._conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                await self._conn.rollback()
        finally:
            await self._conn.close()
            self._forget_pending()

    @property
    def connection(self) -> AsyncConnection:
        assert self._conn is not None, "the unit of work is not open"
        return self._conn

    def emit(self, *events: CloudEvent) -> None:
        """Queue events; they are written to the outbox by `commit`."""
        self._events.extend(events)

    async def add_tasks(
        self,
        new: Sequence[Task],
        events: Sequence[CloudEvent],
        *,
        unless_deleted_since: datetime | None = None,
    ) -> None:
        """Insert new tasks with their events written to the outbox now, in
        one round trip where the database allows (rather than at `commit`).
        `unless_deleted_since`: see `TaskRepository.add_with_outbox`."""
        await self.tasks.add_with_outbox(
            new, outbox_rows(events), unless_deleted_since=unless_deleted_since
        )
        self._wrote_events = self._wrote_events or bool(events)

    async def add_tasks_and_commit(
        self,
        new: Sequence[Task],
        events: Sequence[CloudEvent],
        *,
        unless_deleted_since: datetime | None = None,
    ) -> None:
        """`add_tasks`, then `commit`: when the database takes the tasks and
        their events in one statement (PostgreSQL), by `run_alone`."""
        rows = outbox_rows(events)
        if not self.tasks.in_one_statement(new, rows):
            await self.add_tasks(new, events, unless_deleted_since=unless_deleted_since)
            await self.commit()
            return
        self._wrote_events = self._wrote_events or bool(events)
        await self.run_alone(
            self.tasks.add_with_outbox(new, rows, unless_deleted_since=unless_deleted_since)
        )

    async def save_and_commit(
        self, task: Task, *, previous_version: int, events: Sequence[CloudEvent]
    ) -> None:
        """Save a changed task (`TaskRepository.save`, guarded by its previous
        version) with its events, then commit: on PostgreSQL one statement, by
        `run_alone`. `VersionMismatch` means nothing was written."""
        rows = outbox_rows(events)
        saving = self.tasks.save_with_outbox(task, previous_version=previous_version, outbox=rows)
        self._wrote_events = True  # at worst (a mismatch) the relay looks once for nothing
        if self.tasks.saves_in_one_statement(rows):
            await self.run_alone(saving)
            return
        await saving
        await self.commit()

    @asynccontextmanager
    async def _outside_transaction(self) -> AsyncIterator[AsyncConnection]:
        """This unit's connection in autocommit for what runs inside: each
        statement is its own transaction, and no BEGIN is sent."""
        conn = self.connection
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            yield conn
        finally:
            if conn.in_transaction():
                await conn.rollback()  # SQLAlchemy's side only: the database has no transaction
            await conn.execution_options(isolation_level=conn.default_isolation_level)

    async def read_alone(self, work: Awaitable[T]) -> T:
        """Await `work` (reads on this unit's connection) without opening the
        unit's transaction, when it has none yet: no BEGIN before it, and a
        write after it can still be its own transaction (`run_alone`). Inside
        a transaction it simply joins it."""
        if self._reading or self.connection.in_transaction():
            return await work
        async with self._outside_transaction():
            return await work

    async def run_alone(self, work: Awaitable[T]) -> T:
        """Await `work` (one statement on this unit's connection) and commit.

        When nothing else happened in the unit, the statement is its own
        transaction: one round trip instead of BEGIN, the statement and COMMIT.
        Otherwise it joins the unit's transaction, which is then committed."""
        if self._events or self.connection.in_transaction():
            done = await work
            await self.commit()
            return done
        assert not self._reading, "a reading unit cannot write"
        conn = self.connection
        with statement_alone(conn):  # the driver's statement commits as it runs
            done = await work
        if conn.in_transaction():  # `work` went through SQLAlchemy, which began one
            await conn.commit()
        self._committed()
        return done

    def principals_changed(
        self, *, user_id: uuid.UUID | None = None, grant_id: uuid.UUID | None = None
    ) -> None:
        """Callers resolved earlier for this user (or grant) are stale once
        this commits: the cached ones are dropped as it does."""
        if user_id is not None:
            self._principal_changes.append(("user", user_id))
        if grant_id is not None:
            self._principal_changes.append(("grant", grant_id))

    @property
    def pending_events(self) -> list[CloudEvent]:
        return list(self._events)

    async def rollback(self) -> None:
        """Undo what this unit did since it last committed, queued events included;
        the unit can go on with a new transaction."""
        if self.connection.in_transaction():
            await self.connection.rollback()
        self._forget_pending()

    def _forget_pending(self) -> None:
        """Drop what would have gone out with a commit: events and principal changes."""
        self._events.clear()
        self._wrote_events = False
        self._principal_changes.clear()

    async def commit(self) -> None:
        assert not self._reading, "a reading unit has nothing to commit"
        conn = self.connection
        await write_outbox(conn, self._events)
        await conn.commit()
        self._committed()

    def _committed(self) -> None:
        wrote_events = bool(self._events) or self._wrote_events
        self._events.clear()
        self._wrote_events = False
        changes, self._principal_changes = self._principal_changes, []
        if changes and self._on_principals_changed is not None:
            self._on_principals_changed(changes)
        if wrote_events and self._on_commit is not None:
            self._on_commit()  # wake the outbox relay now rather than at its next poll
