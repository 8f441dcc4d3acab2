"""The task service layer: the one place every door (REST, MCP, assistant,
CLI) goes through to read or change tasks.

Functions take the unit of work and keyword arguments, return view models
and raise `services.errors` exceptions. Every change writes its events to the
outbox in the same transaction.
"""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from events import CloudEvent, EventType, new_event
from services.errors import Conflict, NotFound, VersionMismatch
from services.shared.auth.principal import Principal
from services.shared.metrics import TASKS_COMPLETED, TASKS_CREATED
from services.shared.timeutil import in_zone, localize, zone
from services.tasks.domain.editing import apply_changes, new_task, same_fields
from services.tasks.domain.model import Status, Task
from services.tasks.domain.recurrence import NextOccurrence, Recurrence, parse_rule
from services.tasks.repository import TaskIdDeleted, TaskIdTaken, TaskRepository
from services.tasks.schemas import (
    OccurrencesPublic,
    TaskCreate,
    TaskPage,
    TaskPublic,
    TaskQuery,
    TaskUpdate,
)

SOURCE = "/task-api"
MAX_OCCURRENCES = 100
# A deleted task can be restored this long; after that it is purged.
RESTORE_WINDOW = timedelta(days=30)
# New tasks written per statement (with their events), well under the
# database's limit of bind parameters per statement.
STORE_CHUNK = 100
T = TypeVar("T")


class TasksUoW(Protocol):
    tasks: TaskRepository

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


def _now() -> datetime:
    return datetime.now(UTC)


def to_public(task: Task) -> TaskPublic:
    tz = zone(task.timezone)
    return TaskPublic(
        id=task.id,
        title=task.title,
        description=task.description,
        status=task.status.value,
        completed_at=in_zone(task.completed_at, tz),
        priority=task.priority.value,
        tags=list(task.tags),
        due_at=in_zone(task.due_at, tz),
        remind_at=in_zone(task.remind_at, tz),
        timezone=task.timezone,
        recurrence_rule=task.recurrence_rule,
        repeat_from=task.repeat_from.value,
        is_recurring=task.is_recurring,
        series_id=task.series_id,
        created_at=in_zone(task.created_at, tz),
        updated_at=in_zone(task.updated_at, tz),
        version=task.version,
    )


def series_state(task: Task) -> dict[str, Any]:
    """What the recurring-task service needs besides the public task."""
    return {
        "start_at": _iso(task.series_start_at),
        "occurrence_at": _iso(task.occurrence_at),
        "sequence": task.sequence,
        "exdates": [d.isoformat() for d in task.exdates],
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def task_event(kind: EventType, task: Task, **extra: Any) -> CloudEvent:
    data = {"task": to_public(task).model_dump(mode="json"), **extra}
    return new_event(kind, source=SOURCE, user_id=task.user_id, subject=task.id, data=data)


def reminder_event(task: Task) -> CloudEvent:
    tz = zone(task.timezone)
    return new_event(
        EventType.REMINDER_SCHEDULED,
        source=SOURCE,
        user_id=task.user_id,
        subject=task.id,
        data={
            "task_id": str(task.id),
            "series_id": str(task.series_id),
            "title": task.title,
            "remind_at": in_zone(task.remind_at, tz).isoformat(),  # type: ignore[union-attr]
            "due_at": None if task.due_at is None else task.due_at.astimezone(tz).isoformat(),
            "timezone": task.timezone,
        },
    )


async def _load(uow: TasksUoW, user: Principal, task_id: uuid.UUID, *, lock: bool) -> Task:
    task = await uow.tasks.get(user.user_id, task_id, lock=lock)
    if task is None:
        raise NotFound(f"no task {task_id}")
    return task


def _check_version(task: Task, if_match: int | None) -> None:
    if if_match is not None and if_match != task.version:
        raise VersionMismatch(if_match, task.version)


async def _change(
    uow: TasksUoW,
    user: Principal,
    task_id: uuid.UUID,
    if_match: int | None,
    change: Callable[[Task], list[CloudEvent]],
) -> tuple[Task, bool]:
    """Read the task, let `change` change it and name its events, and save
    both (whether anything changed is the second value).

    Optimistic first: the read takes no lock and opens no transaction, and
    the save (one statement on PostgreSQL) holds only if the task is still at
    the version read. If another change got in between, nothing was written,
    and the change goes round once more, this time reading the task locked
    (`FOR UPDATE` on PostgreSQL) in the unit's transaction, so it cannot lose
    again: a request without `If-Match` does not fail for the race, and one
    with `If-Match` fails on its version as it would have anyway."""
    for locked in (False, True):
        read = _load(uow, user, task_id, lock=locked)
        task = await (read if locked else uow.read_alone(read))
        _check_version(task, if_match)
        previous = task.version
        events = change(task)
        if not events:
            return task, False
        try:
            await uow.save_and_commit(task, previous_version=previous, events=events)
        except VersionMismatch:
            if locked:
                raise
            continue
        return task, True
    raise AssertionError("unreachable: the locked round returns or raises")


async def create_task(uow: TasksUoW, *, user: Principal, data: TaskCreate) -> TaskPublic:
    task, _ = await create_or_find_task(uow, user=user, data=data)
    return task


def task_from_request(
    data: TaskCreate, *, user_id: uuid.UUID, default_timezone: str, now: datetime | None = None
) -> Task:
    """The task a create request describes (not stored)."""
    fields = data.model_dump()
    chosen = fields.pop("id", None)
    if fields.get("timezone") is None:
        fields.pop("timezone", None)
    return new_task(
        user_id=user_id,
        fields=fields,
        default_timezone=default_timezone,
        now=now or _now(),
        task_id=chosen,
    )


async def create_or_find_task(
    uow: TasksUoW, *, user: Principal, data: TaskCreate
) -> tuple[TaskPublic, bool]:
    """The new task, and True; or, when the request chose an id that is already
    the user's task with the same fields (the same create sent again after its
    answer was lost), that task as it is now, and False. A chosen id that is
    taken otherwise, or whose task was deleted since, is a `Conflict`."""
    task = task_from_request(data, user_id=user.user_id, default_timezone=user.timezone)
    # A chosen id may be a late repeat of a create whose task was deleted since:
    # the insert itself refuses it (no round trip of its own), while restorable.
    since = None if data.id is None else _now() - RESTORE_WINDOW
    try:
        await store_new_tasks(uow, [task], unless_deleted_since=since)
    except TaskIdDeleted:
        await uow.rollback()
        raise Conflict(
            f"task {task.id} was created and then deleted: to bring it back, "
            f"POST /api/tasks/{task.id}/restore; to add another task, choose a new id"
        ) from None
    except TaskIdTaken:
        await uow.rollback()
        existing = await uow.read_alone(uow.tasks.get(user.user_id, task.id))
        if existing is None:
            raise Conflict(f"id {task.id} is taken: choose another, or leave id out") from None
        if not same_fields(existing, task):
            raise Conflict(
                f"task {task.id} already exists with other fields: to change it, "
                f"PATCH /api/tasks/{task.id}; to add another task, choose a new id"
            ) from None
        return to_public(existing), False
    return to_public(task), True


def created_events(task: Task, **extra: Any) -> list[CloudEvent]:
    """What creating a task emits: `task.created` (with `extra` in its data),
    and `reminder.scheduled` when it has a reminder to keep."""
    found = [task_event(EventType.TASK_CREATED, task, **extra)]
    if task.remind_at is not None and task.status is Status.ACTIVE:
        found.append(reminder_event(task))
    return found


async def store_new_tasks(
    uow: TasksUoW,
    tasks: Sequence[Task],
    *,
    unless_deleted_since: datetime | None = None,
    **extra: Any,
) -> None:
    """The one way new tasks are stored, whatever door they come through
    (the API, the assistant, an import): each task with its events in the
    outbox, one commit, and each counted in `todo_tasks_created_total`.
    `unless_deleted_since` (a single task): `TaskIdDeleted` if its id is a task
    deleted then or later (`TaskRepository.add_with_outbox`)."""
    chunks = [tasks[start : start + STORE_CHUNK] for start in range(0, len(tasks), STORE_CHUNK)]
    for chunk in chunks[:-1]:
        await uow.add_tasks(chunk, [e for task in chunk for e in created_events(task, **extra)])
    if chunks:  # the last one commits: a single task is one round trip where it can be
        last = chunks[-1]
        await uow.add_tasks_and_commit(
            last,
            [e for task in last for e in created_events(task, **extra)],
            unless_deleted_since=unless_deleted_since,
        )
    else:
        await uow.commit()
    TASKS_CREATED.inc(len(tasks))


async def get_task(uow: TasksUoW, *, user: Principal, task_id: uuid.UUID) -> TaskPublic:
    return to_public(await _load(uow, user, task_id, lock=False))


async def list_tasks(uow: TasksUoW, *, user: Principal, query: TaskQuery) -> TaskPage:
    found, total = await uow.tasks.find(user.user_id, query, zone(user.timezone))
    return TaskPage(
        items=[to_public(t) for t in found],
        total=total,
        page=query.page,
        limit=query.limit,
        pages=(total + query.limit - 1) // query.limit,
    )


async def update_task(
    uow: TasksUoW,
    *,
    user: Principal,
    task_id: uuid.UUID,
    data: TaskUpdate,
    if_match: int | None = None,
) -> TaskPublic:
    fields = data.model_dump(exclude_unset=True)

    def update(task: Task) -> list[CloudEvent]:
        changed = apply_changes(task, fields, now=_now())
        if not changed:
            return []
        events = [task_event(EventType.TASK_UPDATED, task, changed=changed)]
        if "remind_at" in changed and task.remind_at is not None:
            events.append(reminder_event(task))
        return events

    task, _ = await _change(uow, user, task_id, if_match, update)
    return to_public(task)


async def delete_task(
    uow: TasksUoW, *, user: Principal, task_id: uuid.UUID, if_match: int | None = None
) -> None:
    task = await _load(uow, user, task_id, lock=True)
    _check_version(task, if_match)
    now = _now()
    await uow.tasks.delete(task, at=now)
    await uow.tasks.purge_deleted(now - RESTORE_WINDOW)
    uow.emit(task_event(EventType.TASK_DELETED, task))
    await uow.commit()


async def restore_task(
    uow: TasksUoW, *, user: Principal, task_id: uuid.UUID, if_match: int | None = None
) -> TaskPublic:
    """Bring back a task deleted within `RESTORE_WINDOW`: the same id, fields and
    reminder, one version later. It is announced as `task.created` with
    `restored: true`, so every consumer takes it up as it takes up a new task."""
    now = _now()
    task = await uow.tasks.get_deleted(user.user_id, task_id, since=now - RESTORE_WINDOW)
    if task is None:
        raise NotFound(f"no deleted task {task_id} to restore")
    _check_version(task, if_match)
    task.touch(now)
    if not await uow.tasks.restore(task):
        raise Conflict("its series has a task for the same occurrence now: delete that one first")
    uow.emit(*created_events(task, restored=True))
    await uow.commit()
    return to_public(task)


async def complete_task(
    uow: TasksUoW, *, user: Principal, task_id: uuid.UUID, if_match: int | None = None
) -> TaskPublic:
    """Mark a task done. For a recurring task the recurring-task service
    creates the next occurrence when it receives `task.completed`."""

    def complete(task: Task) -> list[CloudEvent]:
        if not task.complete(_now()):
            return []
        return [task_event(EventType.TASK_COMPLETED, task, series=series_state(task))]

    task, saved = await _change(uow, user, task_id, if_match, complete)
    if saved:
        TASKS_COMPLETED.inc()
    return to_public(task)


async def reopen_task(
    uow: TasksUoW, *, user: Principal, task_id: uuid.UUID, if_match: int | None = None
) -> TaskPublic:
    """Make a completed task active again. For a recurring task the next
    occurrence its completion generated is withdrawn (deleted) if it is still
    open; one still on its way is not inserted (`add_occurrence`)."""
    task = await _load(uow, user, task_id, lock=True)
    _check_version(task, if_match)
    previous = task.version
    planned = task.next_occurrence(task.completed_at) if task.completed_at else None
    now = _now()
    if task.reopen(now):
        await uow.tasks.save(task, previous_version=previous)
        uow.emit(task_event(EventType.TASK_UPDATED, task, changed=["status", "completed_at"]))
        if planned is not None:
            await _withdraw(uow, task, planned.occurrence_at, now)
        await uow.commit()
    return to_public(task)


async def _withdraw(uow: TasksUoW, task: Task, occurrence_at: datetime, now: datetime) -> None:
    following = await uow.tasks.occurrence(task.user_id, task.series_id, occurrence_at)
    if following is None or following.id == task.id or following.status is not Status.ACTIVE:
        return
    await uow.tasks.delete(following, at=now)
    uow.emit(task_event(EventType.TASK_DELETED, following, withdrawn_by=str(task.id)))


async def task_occurrences(
    uow: TasksUoW, *, user: Principal, task_id: uuid.UUID, count: int
) -> OccurrencesPublic:
    """The next `count` occurrences of the task's series, from its due time on."""
    task = await _load(uow, user, task_id, lock=False)
    if task.recurrence_rule is None or task.due_at is None:
        return OccurrencesPublic(occurrences=[])
    tz = zone(task.timezone)
    start = task.series_start_at or task.occurrence_at or task.due_at
    series = Recurrence(task.recurrence_rule, tz, start, frozenset(task.exdates))
    upcoming = series.upcoming(task.due_at, min(count, MAX_OCCURRENCES))
    return OccurrencesPublic(occurrences=upcoming)


def preview_recurrence(
    *, rule: str, start: datetime, timezone: str, count: int
) -> OccurrencesPublic:
    """The first `count` occurrences at or after `start`, a wall-clock time in
    `timezone` (an offset, if given, is converted into that zone first)."""
    tz = zone(timezone)
    first = localize(start, tz) if start.tzinfo is None else start.astimezone(tz)
    series = Recurrence(parse_rule(rule), tz, first)
    return OccurrencesPublic(occurrences=series.upcoming(first, min(count, MAX_OCCURRENCES)))


async def skip_occurrence(
    uow: TasksUoW, *, user: Principal, task_id: uuid.UUID, if_match: int | None = None
) -> TaskPublic:
    """Skip this occurrence of a recurring task: it becomes an EXDATE of the
    series and the task moves to the next occurrence (reminder moved along)."""
    task = await _load(uow, user, task_id, lock=True)
    _check_version(task, if_match)
    previous = task.version
    changed = task.skip_occurrence(_now())
    await uow.tasks.save(task, previous_version=previous)
    uow.emit(task_event(EventType.TASK_UPDATED, task, changed=changed))
    if task.remind_at is not None:
        uow.emit(reminder_event(task))
    await uow.commit()
    return to_public(task)


async def add_occurrence(uow: TasksUoW, *, data: dict[str, Any]) -> TaskPublic | None:
    """Insert the next occurrence the recurring-task service computed
    (`task.occurrence.generated`). The series id and occurrence time are a
    unique key, so a redelivered event or a second replica creates nothing
    twice: then None is returned and nothing is emitted. Nothing is inserted
    either when the previous task was reopened before the event arrived.

    The previous task's row is locked first, so a concurrent reopen either
    sees the inserted occurrence (and withdraws it) or makes this a no-op."""
    previous = await uow.tasks.get(
        uuid.UUID(data["user_id"]), uuid.UUID(data["previous_task_id"]), lock=True
    )
    if previous is None:
        return None  # the series' task was deleted meanwhile: the series ends with it
    if previous.status is not Status.COMPLETED:
        return None  # reopened meanwhile: the completion this follows is undone
    offset = data.get("remind_offset_seconds")
    planned = NextOccurrence(
        occurrence_at=datetime.fromisoformat(data["occurrence_at"]),
        sequence=int(data["sequence"]),
        remind_lead=None if offset is None else timedelta(seconds=offset),
    )
    task = previous.next_in_series(planned, _now())
    if not await uow.tasks.add_if_absent(task):
        return None
    uow.emit(task_event(EventType.TASK_CREATED, task, previous_task_id=str(previous.id)))
    if task.remind_at is not None:
        uow.emit(reminder_event(task))
    await uow.commit()
    return to_public(task)
