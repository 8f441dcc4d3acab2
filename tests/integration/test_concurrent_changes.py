"""Changes to one task at the same moment: a change first takes no lock, and
one that finds the task changed since it read it goes round again with the
task locked. None is lost, none fails for it, each version's event is in the
outbox once and in order; a request naming a version (If-Match) still fails
when that version is gone."""

import asyncio

import pytest

from events import EventType
from services.bootstrap import Container
from services.errors import VersionMismatch
from services.shared.auth import accounts
from services.shared.auth.principal import Principal
from services.tasks import service
from services.tasks.schemas import TaskCreate, TaskUpdate
from tests.conftest import outbox_events

WRITERS = 8


async def _user(container: Container) -> Principal:
    async with container.uow() as uow:
        return await accounts.ensure_local_user(uow, email="busy@example.com", timezone="UTC")


async def test_simultaneous_changes_all_land_in_order(container: Container) -> None:
    user = await _user(container)
    async with container.uow() as uow:
        task = await service.create_task(uow, user=user, data=TaskCreate(title="Shared"))
    start = asyncio.Event()

    async def tag(n: int) -> None:
        await start.wait()
        async with container.uow() as uow:
            current = await service.get_task(uow, user=user, task_id=task.id)
        tags = [*current.tags, f"t{n}"]
        # Each writer adds its own tag to what it read: a lost round would lose a tag
        # only if it saved over a newer version, which the version guard refuses.
        for _ in range(50):
            async with container.uow() as uow:
                try:
                    await service.update_task(
                        uow,
                        user=user,
                        task_id=task.id,
                        data=TaskUpdate(tags=tags),
                        if_match=current.version,
                    )
                    return
                except VersionMismatch:
                    current = await service.get_task(uow, user=user, task_id=task.id)
                    tags = sorted({*current.tags, f"t{n}"})
        raise AssertionError(f"writer {n} never got its change in")

    async def rename(n: int) -> None:
        await start.wait()
        async with container.uow() as uow:
            await service.update_task(
                uow, user=user, task_id=task.id, data=TaskUpdate(description=f"by {n}")
            )

    writers = [tag(n) for n in range(WRITERS)] + [rename(n) for n in range(WRITERS)]
    running = asyncio.gather(*writers)
    start.set()
    await running

    async with container.uow() as uow:
        final = await service.get_task(uow, user=user, task_id=task.id)
    assert sorted(final.tags) == sorted(f"t{n}" for n in range(WRITERS))
    assert final.version == 1 + 2 * WRITERS
    events = await outbox_events(container, str(task.id))
    assert [e.type for e in events] == [EventType.TASK_CREATED] + [EventType.TASK_UPDATED] * (
        2 * WRITERS
    )
    assert [e.data["task"]["version"] for e in events] == list(range(1, 2 * WRITERS + 2))


async def test_completing_twice_at_once_completes_once(container: Container) -> None:
    user = await _user(container)
    async with container.uow() as uow:
        task = await service.create_task(uow, user=user, data=TaskCreate(title="Once"))

    async def complete() -> int:
        async with container.uow() as uow:
            done = await service.complete_task(uow, user=user, task_id=task.id)
            return done.version

    versions = await asyncio.gather(*(complete() for _ in range(WRITERS)))
    assert set(versions) == {2}
    events = await outbox_events(container, str(task.id))
    assert [e.type for e in events] == [EventType.TASK_CREATED, EventType.TASK_COMPLETED]


async def test_a_stale_version_still_fails(container: Container) -> None:
    user = await _user(container)
    async with container.uow() as uow:
        task = await service.create_task(uow, user=user, data=TaskCreate(title="Old"))
        await service.update_task(uow, user=user, task_id=task.id, data=TaskUpdate(title="New"))
    with pytest.raises(VersionMismatch):
        async with container.uow() as uow:
            await service.complete_task(uow, user=user, task_id=task.id, if_match=1)
    events = await outbox_events(container, str(task.id))
    assert [e.type for e in events] == [EventType.TASK_CREATED, EventType.TASK_UPDATED]
