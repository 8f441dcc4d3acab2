"""The Task and its rules."""

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from services.errors import InvalidInput

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
        self._touch(at)
        return True

    def reopen(self, at: datetime) -> bool:
        if self.status is Status.ACTIVE:
            return False
        self.status = Status.ACTIVE
        self.completed_at = None
        self._touch(at)
        return True

    def _touch(self, at: datetime) -> None:
        self.updated_at = at
        self.version += 1
