"""The result of reading one utterance: the `todo parse` JSON object (docs/reference.md)."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

Intent = Literal[
    "add_task",
    "find_tasks",
    "complete_task",
    "update_task",
    "delete_task",
    "set_reminder",
    "skip_occurrence",
    "reopen_task",
    "undo",
    "unknown",
]
Priority = Literal["none", "low", "medium", "high"]
Status = Literal["active", "completed"]

INTENTS: tuple[Intent, ...] = Intent.__args__  # type: ignore[attr-defined]
PRIORITIES: tuple[Priority, ...] = Priority.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class TaskFilters:
    """Query filters for `find_tasks`, named like the query parameters of GET /api/tasks."""

    q: str | None = None
    status: Status | None = None
    priority: Priority | None = None
    tags: tuple[str, ...] = ()
    due_after: date | None = None
    due_before: date | None = None
    is_recurring: bool | None = None
    overdue: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """Only the filters that were asked for; dates as YYYY-MM-DD."""
        out: dict[str, Any] = {}
        for key in ("q", "status", "priority"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.tags:
            out["tags"] = list(self.tags)
        for key in ("due_after", "due_before"):
            day: date | None = getattr(self, key)
            if day is not None:
                out[key] = day.isoformat()
        if self.is_recurring is not None:
            out["is_recurring"] = self.is_recurring
        if self.overdue is not None:
            out["overdue"] = self.overdue
        return out


@dataclass(frozen=True, slots=True)
class DueChange:
    """A new due time as the user said it, to merge with the task's current one:
    a day keeps the task's time, a time keeps its day, a shift moves both."""

    day: date | None = None
    clock_time: time | None = None
    shift: timedelta | None = None  # "by 2 days", "an hour earlier" (negative)


@dataclass(frozen=True, slots=True)
class ReminderOffset:
    """A reminder relative to the due time: "an hour before", "the day before at 10am".

    Whole days count on the wall clock; with `clock_time`, the reminder is at that
    wall-clock time on the day `before` ends on.
    """

    before: timedelta
    clock_time: time | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """What the user asked for. Instants are timezone-aware, in the user's zone."""

    intent: Intent
    task: str | None = None
    title: str | None = None
    due_at: datetime | None = None
    remind_at: datetime | None = None
    priority: Priority | None = None
    tags: tuple[str, ...] = ()
    recurrence_rule: str | None = None
    filters: TaskFilters = field(default_factory=TaskFilters)
    # For changes to an existing task: what was said, before it meets the task.
    due_change: DueChange | None = None
    remind_before: ReminderOffset | None = None

    def to_json(self) -> dict[str, Any]:
        """The `todo parse` object; `filters` is empty unless the intent is find_tasks."""
        return {
            "intent": self.intent,
            "task": self.task,
            "title": self.title,
            "due_at": _rfc3339(self.due_at),
            "remind_at": _rfc3339(self.remind_at),
            "priority": self.priority,
            "tags": list(self.tags),
            "recurrence_rule": self.recurrence_rule,
            "filters": self.filters.to_json() if self.intent == "find_tasks" else {},
        }


UNKNOWN = Reading(intent="unknown")


def _rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds")
