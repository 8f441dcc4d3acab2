"""The Task and its rules."""

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from services.errors import Conflict, InvalidInput
from services.shared.timeutil import zone
from services.tasks.domain.recurrence import (
    NextOccurrence,
    Series,
    next_occurrence,
    reminder_lead,
)

MAX_TITLE = 500
MAX_DESCRIPTION = 10_000
MAX_TAGS = 20
MAX_TAG = 50
_TAG_FORBIDDEN = re.compile(r"[\s,]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Priority(StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.NONE: 0, Priority.LOW: 1, Priority.MEDIUM: 2, Priority.HIGH: 3}


class Status(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"


class RepeatFrom(StrEnum):
    DUE = "due"
    COMPLETION = "completion"


def clean_title(value: str) -> str:
    title = value.strip()
    if not title:
        raise InvalidInput("title", "must not be empty")
    if len(title) > MAX_TITLE:
        raise InvalidInput("title", f"must be at most {MAX_TITLE} characters, not {len(title)}")
    if _CONTROL.search(title) or "\n" in title or "\r" in title:
        raise InvalidInput("title", "must be one line without control characters")
    return title


def clean_description(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > MAX_DESCRIPTION:
        raise InvalidInput(
            "description", f"must be at most {MAX_DESCRIPTION} characters, not {len(value)}"
        )
    if _CONTROL.search(value):
        raise InvalidInput("description", "must not contain control characters")
    return value


def clean_tags(values: list[str]) -> list[str]:
    """Lowercased, without a leading '#', duplicates dropped, order kept."""
    tags: list[str] = []
    for raw in values:
        tag = raw.strip().lstrip("#").lower()
        if not tag:
            raise InvalidInput("tags", "a tag must not be empty")
        if len(tag) > MAX_TAG:
            raise InvalidInput("tags", f"tag {tag[:20]!r}… is longer than {MAX_TAG} characters")
        if _TAG_FORBIDDEN.search(tag) or _CONTROL.search(tag):
            raise InvalidInput("tags", f"tag {tag!r} must not contain spaces or commas")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise InvalidInput("tags", f"at most {MAX_TAGS} tags, not {len(tags)}")
    return tags


@dataclass(slots=True)
class Task:
    """A task as the domain sees it; instants are UTC, `timezone` is the
    zone its wall-clock times (due, reminder, recurrence) belong to."""

    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    timezone: str
    series_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    status: Status = Status.ACTIVE
    completed_at: datetime | None = None
    priority: Priority = Priority.NONE
    tags: list[str] = field(default_factory=list)
    due_at: datetime | None = None
    remind_at: datetime | None = None
    recurrence_rule: str | None = None
    repeat_from: RepeatFrom = RepeatFrom.DUE
    exdates: list[datetime] = field(default_factory=list)
    occurrence_at: datetime | None = None
    # The series' first occurrence (RRULE's DTSTART, so COUNT and UNTIL hold
    # across completions) and this occurrence's number in it.
    series_start_at: datetime | None = None
    sequence: int = 1
    version: int = 1

    @property
    def is_recurring(self) -> bool:
        return self.recurrence_rule is not None

    def copy(self) -> "Task":
        return replace(self, tags=list(self.tags), exdates=list(self.exdates))

    def complete(self, at: datetime) -> bool:
        """Mark done; False when it already was (completing twice is a no-op)."""
        if self.status is Status.COMPLETED:
            return False
        self.status = Status.COMPLETED
        self.completed_at = at
        self.touch(at)
        return True

    def reopen(self, at: datetime) -> bool:
        if self.status is Status.ACTIVE:
            return False
        self.status = Status.ACTIVE
        self.completed_at = None
        self.touch(at)
        return True

    def series(self) -> Series | None:
        """This task's place in its series; None when it does not recur."""
        if self.recurrence_rule is None or self.occurrence_at is None:
            return None
        return Series(
            rule=self.recurrence_rule,
            tz=zone(self.timezone),
            start=self.series_start_at or self.occurrence_at,
            occurrence_at=self.occurrence_at,
            sequence=self.sequence,
            exdates=frozenset(self.exdates),
            from_completion=self.repeat_from is RepeatFrom.COMPLETION,
        )

    def next_occurrence(self, completed_at: datetime) -> NextOccurrence | None:
        """What the series' next task is made from once this one is done at
        `completed_at`; None when the series has ended."""
        series = self.series()
        if series is None:
            return None
        return next_occurrence(series, completed_at, reminder_lead(self.due_at, self.remind_at))

    def advance_to(self, occurrence_at: datetime, at: datetime) -> None:
        """Move this task to a later occurrence of its series: the due time
        moves there, the reminder keeps its lead before it."""
        lead = reminder_lead(self.due_at, self.remind_at)
        self.occurrence_at = self.due_at = occurrence_at
        self.remind_at = None if lead is None else occurrence_at - lead
        self.sequence += 1
        self.touch(at)

    def skip_occurrence(self, at: datetime) -> list[str]:
        """Skip this occurrence: it becomes an EXDATE of the series and the
        task moves to the next occurrence. Returns the fields that changed."""
        series = self.series()
        if series is None:
            raise InvalidInput("task_id", "only a recurring task has occurrences to skip")
        following = series.after_skipping()
        if following is None:
            raise Conflict(
                "this is the series' last occurrence: complete or delete the task instead"
            )
        changed = ["due_at", "remind_at"] if self.remind_at is not None else ["due_at"]
        self.exdates = [*self.exdates, series.occurrence_at]
        self.advance_to(following, at)
        return changed

    def next_in_series(self, planned: NextOccurrence, now: datetime) -> "Task":
        """The series' next task, a new one: this task's content at the
        planned occurrence; its reminder only when that is still ahead."""
        lead = planned.remind_lead
        remind_at = None if lead is None else planned.occurrence_at - lead
        return Task(
            id=uuid.uuid4(),
            user_id=self.user_id,
            title=self.title,
            description=self.description,
            priority=self.priority,
            tags=list(self.tags),
            timezone=self.timezone,
            recurrence_rule=self.recurrence_rule,
            repeat_from=self.repeat_from,
            series_id=self.series_id,
            series_start_at=self.series_start_at,
            exdates=list(self.exdates),
            occurrence_at=planned.occurrence_at,
            due_at=planned.occurrence_at,
            remind_at=remind_at if remind_at is not None and remind_at > now else None,
            sequence=planned.sequence,
            created_at=now,
            updated_at=now,
        )

    def touch(self, at: datetime) -> None:
        """Record a change: the one place the version goes up."""
        self.updated_at = at
        self.version += 1
