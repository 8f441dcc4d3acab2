"""From drafts to tasks: every domain rule checked, duplicates recognised,
series linked. Nothing is stored here.

Duplicates. A record is skipped as a duplicate when
1. its identity names one of the user's tasks: our export's task id, or a
   calendar UID of ours (`<task id>@todo-app`, `<series id>@todo-app`) that is
   the id or the series id of a task the user has; or an earlier record in the
   same file has the same identity;
2. else, a task of the user (from before this import) has the same title,
   compared without case and surrounding spaces, and the same due instant
   (or neither has one). Records of one file are not compared this way with
   each other: two equal rows in a file are two tasks.
Imported tasks get new ids (an id is global: reusing one could collide with,
and so reveal, another account's task), so rule 2 is what recognises a file
imported a second time into a new account.
"""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.errors import InvalidInput
from services.portability.importing.drafts import Draft, Reading
from services.portability.schemas import ImportItem, Outcome, RowProblem
from services.shared.auth.principal import Principal
from services.shared.timeutil import REMINDER_TIME_OF_DAY, to_instant, zone
from services.tasks.domain.editing import new_task
from services.tasks.domain.model import Task

_OUR_UID = re.compile(r"^([0-9a-fA-F-]{32,36})(?:-task)?@todo-app$")
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(slots=True)
class Plan:
    items: list[ImportItem] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)


def _reference(identity: str) -> str | None:
    """The task or series id an identity names, if it names one of ours."""
    match = _OUR_UID.match(identity)
    try:
        return str(uuid.UUID(match.group(1) if match else identity))
    except ValueError:
        return None


def _key(title: str, due: datetime | None) -> tuple[str, datetime | None]:
    return title.strip().casefold(), None if due is None else due.astimezone(UTC)


class _Known:
    """The user's tasks, as a record may repeat them."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        self.by_ref: dict[str, uuid.UUID] = {}
        self.by_key: dict[tuple[str, datetime | None], uuid.UUID] = {}
        for task in tasks:
            self.by_ref.setdefault(str(task.series_id), task.id)
            self.by_key.setdefault(_key(task.title, task.due_at), task.id)
        for task in tasks:
            self.by_ref[str(task.id)] = task.id
        self.seen: dict[str, int] = {}

    def same_identity(self, draft: Draft) -> tuple[uuid.UUID | None, str] | None:
        if draft.identity is None:
            return None
        ref = _reference(draft.identity)
        if ref is not None and ref in self.by_ref:
            return self.by_ref[ref], "the same id as a task you have"
        if draft.identity in self.seen:
            return None, f"the same id or UID as row {self.seen[draft.identity]}"
        self.seen[draft.identity] = draft.row
        return None

    def same_task(self, task: Task) -> uuid.UUID | None:
        return self.by_key.get(_key(task.title, task.due_at))


def plan_import(
    reading: Reading, existing: Sequence[Task], *, user: Principal, now: datetime
) -> Plan:
    plan = Plan(problems=list(reading.problems))
    known = _Known(existing)
    built: list[tuple[Draft, Task]] = []
    for draft in reading.drafts:
        twin = known.same_identity(draft)
        if twin is not None:
            plan.items.append(_item(draft, "duplicate", twin[0], f"skipped: {twin[1]}"))
            continue
        if draft.skip_reason is not None:
            plan.items.append(_item(draft, "skipped", None, draft.skip_reason))
            continue
        try:
            task = build_task(draft, user=user, now=now)
        except InvalidInput as exc:
            problem = exc.problems[0]
            plan.problems.append(
                RowProblem(
                    row=draft.row, field=draft.name_of(problem.field), message=problem.message
                )
            )
            continue
        existing_id = known.same_task(task)
        if existing_id is not None:
            note = "skipped: a task you have has the same title and due time"
            plan.items.append(_item(draft, "duplicate", existing_id, note))
            continue
        built.append((draft, task))
        plan.items.append(_item(draft, "created", task.id, "; ".join(draft.notes) or None))
    _link_series(built, plan)
    plan.tasks = [task for _, task in built]
    return plan


def _item(
    draft: Draft, outcome: Outcome, task_id: uuid.UUID | None, note: str | None
) -> ImportItem:
    return ImportItem(
        row=draft.row,
        source_id=draft.identity,
        title=draft.title,
        outcome=outcome,
        task_id=task_id,
        note=note,
    )


def build_task(draft: Draft, *, user: Principal, now: datetime) -> Task:
    """A new task from a draft, by the same rules as any other new task; then
    what only an import carries over: completion, creation time, series state."""
    fields = dict(draft.fields)
    remind = fields.get("remind_at")
    if remind is not None:
        tz = zone(fields.get("timezone") or user.timezone)
        at = to_instant(remind, tz, field="remind_at", default_time=REMINDER_TIME_OF_DAY)
        if at < now:  # a reminder must be ahead; a passed one has nothing left to do
            fields["remind_at"] = None
            if not draft.completed:
                draft.notes.append("the reminder time has passed: left out")
    task = new_task(user_id=user.user_id, fields=fields, default_timezone=user.timezone, now=now)
    if draft.created_at is not None and draft.created_at <= now:
        task.created_at = draft.created_at.astimezone(UTC)
    if draft.series is not None and task.recurrence_rule is not None and task.due_at is not None:
        start = draft.series.start_at
        if start is not None and start > task.due_at:
            raise InvalidInput("series.series_start_at", "is after due_at: a series starts first")
        task.series_start_at = task.due_at if start is None else start.astimezone(UTC)
        task.sequence = draft.series.sequence
        task.exdates = sorted({d.astimezone(UTC) for d in draft.series.exdates})
    if draft.completed:
        done = draft.completed_at or now
        if done > now + CLOCK_SKEW:
            raise InvalidInput("completed_at", "is in the future")
        task.complete(done.astimezone(UTC))
        task.version, task.updated_at = 1, now  # a new task, whatever its past
    return task


def _link_series(built: Sequence[tuple[Draft, Task]], plan: Plan) -> None:
    """Rows of one exported series share one new series id: the new id of its
    first task if that was imported too, else of its first row here."""
    groups: dict[str, list[tuple[Draft, Task]]] = {}
    for draft, task in built:
        if draft.series is not None and draft.series.key and task.recurrence_rule:
            groups.setdefault(draft.series.key, []).append((draft, task))
    for key, members in groups.items():
        leader = next((t for d, t in members if d.identity == key), members[0][1])
        taken: dict[datetime | None, int] = {}
        for draft, task in members:
            task.series_id = leader.id
            if task.occurrence_at in taken:
                plan.problems.append(
                    RowProblem(
                        row=draft.row,
                        field=draft.name_of("due_at"),
                        message=f"row {taken[task.occurrence_at]} is this series' "
                        "occurrence at the same time",
                    )
                )
            taken[task.occurrence_at] = draft.row


__all__ = ["Plan", "build_task", "plan_import"]
