"""View models of the task service: what REST, MCP and the assistant speak."""

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, TypeAdapter

from services.tasks.domain.model import MAX_DESCRIPTION, MAX_TAG, MAX_TAGS, MAX_TITLE

PriorityName = Literal["none", "low", "medium", "high"]
StatusName = Literal["active", "completed"]
RepeatFromName = Literal["due", "completion"]
Tag = Annotated[str, StringConstraints(max_length=MAX_TAG + 1)]
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = TypeAdapter(datetime)


def _date_or_datetime(value: object) -> object:
    """A bare `YYYY-MM-DD` is a calendar date; anything else a datetime."""
    if isinstance(value, str) and _DATE_ONLY.match(value.strip()):
        return date.fromisoformat(value.strip())
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return _DATETIME.validate_python(value)
    return value


DateOrTime = Annotated[datetime | date, BeforeValidator(_date_or_datetime)]
WhenInput = Annotated[
    DateOrTime,
    Field(
        description="RFC 3339 with offset; without an offset it is wall-clock time in the "
        "task's timezone; a bare date means 23:59 (due) or 09:00 (reminder)."
    ),
]


class TaskFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Annotated[str | None, Field(max_length=MAX_DESCRIPTION)] = None
    priority: PriorityName = "none"
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS * 5)] = Field(default_factory=list)
    due_at: WhenInput | None = None
    remind_at: WhenInput | None = None
    timezone: Annotated[str | None, Field(max_length=64, description="IANA zone name")] = None
    recurrence_rule: Annotated[
        str | None, Field(max_length=500, description="RRULE body, e.g. FREQ=WEEKLY;BYDAY=MO")
    ] = None
    repeat_from: RepeatFromName = "due"


class TaskCreate(TaskFields):
    title: Annotated[str, Field(min_length=1, max_length=MAX_TITLE * 2)]
    id: uuid.UUID | None = Field(
        default=None,
        description="The new task's id, chosen by the client (a random UUID) so that a "
        "create sent again after a lost answer finds the task instead of adding it twice. "
        "Left out, the server chooses one.",
    )


class TaskUpdate(TaskFields):
    """Only the fields sent are changed; `null` clears a nullable field."""

    title: Annotated[str | None, Field(min_length=1, max_length=MAX_TITLE * 2)] = None
    priority: PriorityName | None = None  # type: ignore[assignment]
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS * 5)] | None = None  # type: ignore[assignment]
    repeat_from: RepeatFromName | None = None  # type: ignore[assignment]


class TaskPublic(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    status: StatusName
    completed_at: datetime | None
    priority: PriorityName
    tags: list[str]
    due_at: datetime | None
    remind_at: datetime | None
    timezone: str
    recurrence_rule: str | None
    repeat_from: RepeatFromName
    is_recurring: bool
    series_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int


class TaskPage(BaseModel):
    items: list[TaskPublic]
    total: int
    page: int
    limit: int
    pages: int


SortField = Literal["created_at", "updated_at", "due_at", "priority", "title"]


class TaskQuery(BaseModel):
    """Filters of GET /api/tasks (and the MCP `find_tasks` tool)."""

    model_config = ConfigDict(extra="forbid")

    q: Annotated[str | None, Field(max_length=200)] = None
    status: Literal["all", "active", "completed"] = "all"
    priority: list[PriorityName] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    due_after: DateOrTime | None = None
    due_before: DateOrTime | None = None
    is_recurring: bool | None = None
    overdue: bool | None = None
    sort_by: SortField | None = None
    sort_order: Literal["asc", "desc"] = "desc"
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class OccurrencesPublic(BaseModel):
    occurrences: list[datetime]
