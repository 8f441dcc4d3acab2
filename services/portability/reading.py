"""Reading all of a user's tasks through the task repository, page by page
(the repository is the one place that maps task rows)."""

import uuid
from collections.abc import Awaitable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events import CloudEvent
from services.shared.auth.store import AccountStore
from services.tasks.domain.model import Task
from services.tasks.repository import TaskRepository
from services.tasks.schemas import TaskQuery

# Pages far larger than the API's 100: with OFFSET paging, ten pages of 1,000
# read 10,000 tasks in a fraction of the time a hundred pages of 100 take.
PAGE = 1000
_UTC = ZoneInfo("UTC")
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")


class PortabilityUoW(Protocol):
    tasks: TaskRepository
    accounts: AccountStore

    @property
    def connection(self) -> AsyncConnection: ...

    def emit(self, *events: CloudEvent) -> None: ...

    async def add_tasks(self, new: Sequence[Task], events: Sequence[CloudEvent]) -> None: ...

    async def add_tasks_and_commit(
        self,
        new: Sequence[Task],
        events: Sequence[CloudEvent],
        *,
        unless_deleted_since: datetime | None = None,
    ) -> None: ...

    async def save_and_commit(
        self, task: Task, *, previous_version: int, events: Sequence[CloudEvent]
    ) -> None: ...

    async def read_alone(self, work: Awaitable[T]) -> T: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class Sources(Protocol):
    """What reads spanning several connections need (the container has it)."""

    @property
    def engine(self) -> AsyncEngine: ...

    def uow(self) -> AbstractAsyncContextManager[PortabilityUoW]: ...


async def all_tasks(
    tasks: TaskRepository, user_id: uuid.UUID, *, dated_only: bool = False
) -> list[Task]:
    """Every task of the user, oldest first (dated ones only, if asked)."""
    found: list[Task] = []
    page = 1
    while True:
        # Built without validation: `limit` is capped at 100 for API callers only.
        query = TaskQuery.model_construct(
            q=None,
            status="all",
            priority=[],
            tags=[],
            due_after=_EARLIEST if dated_only else None,
            due_before=None,
            is_recurring=None,
            sort_by="created_at",
            sort_order="asc",
            page=page,
            limit=PAGE,
        )
        batch, total = await tasks.find(user_id, query, _UTC)
        found.extend(batch)
        if not batch or page * PAGE >= total:
            return found
        page += 1


__all__ = ["PortabilityUoW", "Sources", "all_tasks"]
