"""What the tools return: the REST task plus phrases, and a one-line summary.

The structured output (`TaskView`, `TaskList`, ...) is for programs; the text
summary is what most models actually read, so it carries the id and the facts
a model needs for its next step, in as few tokens as possible.
"""

import uuid
from datetime import UTC, datetime
from typing import Literal

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from mcp_server import phrases
from services.shared.timeutil import hour_cycle, zone
from services.tasks.schemas import PriorityName, RepeatFromName, StatusName, TaskPage, TaskPublic


class TaskView(BaseModel):
    """A task as GET /api/tasks/{id} returns it, with its times also in words."""

    id: uuid.UUID
    title: str
    description: str | None
    status: StatusName
    completed_at: datetime | None
    priority: PriorityName
    tags: list[str]
    due_at: datetime | None
    due_phrase: str | None = Field(description='due_at in words, e.g. "tomorrow 17:00"')
    remind_at: datetime | None
    remind_phrase: str | None = Field(description="remind_at in words")
    timezone: str
    recurrence_rule: str | None
    repeat_from: RepeatFromName
    is_recurring: bool
    series_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int


class TaskList(BaseModel):
    items: list[TaskView]
    total: int
    page: int
    limit: int
    pages: int


class DeletedTask(BaseModel):
    id: uuid.UUID
    title: str
    deleted: Literal[True] = True


class Occurrence(BaseModel):
    at: datetime
    phrase: str


class OccurrenceList(BaseModel):
    rule: str
    timezone: str
    occurrences: list[Occurrence]


def now() -> datetime:
    return datetime.now(UTC)


def task_view(
    task: TaskPublic, at: datetime | None = None, *, time_format: str = "auto"
) -> TaskView:
    """The phrases write the time of day as the reader's account chooses
    (`time_format`: "12h", "24h", or "auto", 24-hour when no locale is known)."""
    at = at or now()
    tz = zone(task.timezone)
    done = task.status == "completed"
    cycle = hour_cycle(time_format)
    return TaskView(
        **task.model_dump(),
        due_phrase=None
        if task.due_at is None
        else phrases.due(task.due_at, at, tz, done=done, cycle=cycle),
        remind_phrase=None
        if task.remind_at is None
        else phrases.when(task.remind_at, at, tz, cycle=cycle),
    )


def task_list(page: TaskPage, *, time_format: str = "auto") -> TaskList:
    at = now()
    return TaskList(
        items=[task_view(t, at, time_format=time_format) for t in page.items],
        total=page.total,
        page=page.page,
        limit=page.limit,
        pages=page.pages,
    )


def line(task: TaskView) -> str:
    """`"Title" [id] due …, remind …, high, #tag, repeats RULE, completed`."""
    facts = [f'"{task.title}" [{task.id}]']
    if task.due_phrase:
        facts.append(f"due {task.due_phrase}")
    if task.remind_phrase:
        facts.append(f"remind {task.remind_phrase}")
    if task.priority != "none":
        facts.append(task.priority)
    facts.extend(f"#{tag}" for tag in task.tags)
    if task.recurrence_rule:
        facts.append(f"repeats {task.recurrence_rule}")
    if task.status == "completed":
        facts.append("completed")
    return ", ".join(facts)


def result(summary: str, output: BaseModel) -> CallToolResult:
    """A short text for the model beside the full structured output."""
    return CallToolResult(
        content=[TextContent(type="text", text=summary)],
        structured_content=output.model_dump(mode="json"),
    )


__all__ = [
    "DeletedTask",
    "Occurrence",
    "OccurrenceList",
    "TaskList",
    "TaskView",
    "line",
    "now",
    "result",
    "task_list",
    "task_view",
]
