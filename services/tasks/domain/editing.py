"""Creating and changing a task: every field rule and cross-field rule.

Clients send wall-clock values in the task's zone (or aware instants, or bare
dates); here they become UTC instants and the rules between fields are kept:
a recurring task needs its first occurrence (`due_at`), a reminder must be
ahead of now and not after the due time.
"""

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from services.errors import InvalidInput
from services.shared.timeutil import REMINDER_TIME_OF_DAY, to_instant, zone
from services.tasks.domain.model import (
    Priority,
    RepeatFrom,
    Task,
    clean_description,
    clean_tags,
    clean_title,
)
from services.tasks.domain.recurrence import parse_rule

EDITABLE = (
    "title",
    "description",
    "priority",
    "tags",
    "due_at",
    "remind_at",
    "timezone",
    "recurrence_rule",
    "repeat_from",
)
# A reminder set a moment ago for "now" should not fail on clock skew.
REMINDER_GRACE = timedelta(minutes=1)


def new_task(
    *,
    user_id: uuid.UUID,
    fields: Mapping[str, Any],
    default_timezone: str,
    now: datetime,
    task_id: uuid.UUID | None = None,
) -> Task:
    if "title" not in fields or fields["title"] is None:
        raise InvalidInput("title", "is required")
    task_id = task_id or uuid.uuid4()
    task = Task(
        id=task_id,
        user_id=user_id,
        title="",
        timezone=default_timezone,
        series_id=task_id,
        created_at=now,
        updated_at=now,
    )
    apply_changes(task, fields, now=now, creating=True)
    return task


def same_fields(task: Task, other: Task) -> bool:
    """Whether the two agree on every field a create or an update sets."""
    return all(getattr(task, name) == getattr(other, name) for name in EDITABLE)


def apply_changes(
    task: Task, fields: Mapping[str, Any], *, now: datetime, creating: bool = False
) -> list[str]:
    """Apply the given fields; return the names of those that changed.

    The task is only modified when every rule holds."""
    draft = task.copy()
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed this way")
    if "timezone" in fields:
        if fields["timezone"] is None:
            raise InvalidInput("timezone", "must not be null")
        zone(fields["timezone"])
        draft.timezone = fields["timezone"]
    tz = zone(draft.timezone)
    for name, value in fields.items():
        _set(draft, name, value, tz)
    _check_rules(draft, task, fields, now)
    changed = [n for n in EDITABLE if getattr(draft, n) != getattr(task, n)]
    if creating or draft.recurrence_rule != task.recurrence_rule or draft.due_at != task.due_at:
        # A new rule or a new due time re-anchors the series at this task.
        recurring = draft.recurrence_rule is not None
        draft.occurrence_at = draft.due_at if recurring else None
        draft.series_start_at = draft.due_at if recurring else None
        draft.sequence = 1
        draft.exdates = []
    if changed and not creating:
        draft.touch(now)
    for slot in Task.__slots__:
        setattr(task, slot, getattr(draft, slot))
    return changed


def _set(draft: Task, name: str, value: Any, tz: Any) -> None:
    if name == "title":
        if value is None:
            raise InvalidInput("title", "must not be null")
        draft.title = clean_title(value)
    elif name == "description":
        draft.description = clean_description(value)
    elif name == "priority":
        draft.priority = Priority(value) if value is not None else Priority.NONE
    elif name == "tags":
        draft.tags = clean_tags(value or [])
    elif name == "repeat_from":
        draft.repeat_from = RepeatFrom(value) if value is not None else RepeatFrom.DUE
    elif name == "recurrence_rule":
        draft.recurrence_rule = None if value is None else parse_rule(value)
    elif name == "due_at":
        draft.due_at = None if value is None else to_instant(value, tz, field="due_at")
    elif name == "remind_at":
        draft.remind_at = (
            None
            if value is None
            else to_instant(value, tz, field="remind_at", default_time=REMINDER_TIME_OF_DAY)
        )


def _check_rules(draft: Task, before: Task, fields: Mapping[str, Any], now: datetime) -> None:
    if draft.recurrence_rule and draft.due_at is None:
        raise InvalidInput(
            "due_at", "a recurring task needs due_at: the time of its first occurrence"
        )
    reminder_moved = "remind_at" in fields and draft.remind_at != before.remind_at
    if draft.remind_at is not None:
        if reminder_moved and draft.remind_at < now - REMINDER_GRACE:
            raise InvalidInput("remind_at", "is in the past: choose a time that is still ahead")
        if draft.due_at is not None and draft.remind_at > draft.due_at:
            raise InvalidInput(
                "remind_at", "is after due_at: a reminder comes at or before the due time"
            )
