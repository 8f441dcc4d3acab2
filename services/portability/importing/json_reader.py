"""Our own export document (`GET /api/export`): its tasks, with their series
state, come back; notifications, conversations and the audit trail are
history of the old account and are not imported."""

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.portability.errors import ImportTooLarge
from services.portability.importing.drafts import (
    MAX_EXDATES,
    MAX_ROWS,
    Draft,
    Reading,
    SeriesDraft,
)
from services.portability.schemas import SCHEMA_VERSION
from services.tasks.schemas import DateOrTime

HISTORY_KEYS = ("notifications", "conversations", "audit")


class _Series(BaseModel):
    model_config = ConfigDict(extra="ignore")

    series_start_at: datetime | None = None
    sequence: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    exdates: Annotated[list[datetime], Field(max_length=MAX_EXDATES)] = Field(default_factory=list)


class _Task(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Annotated[str | None, Field(max_length=100)] = None
    series_id: Annotated[str | None, Field(max_length=100)] = None
    title: str
    description: str | None = None
    status: Literal["active", "completed"] = "active"
    completed_at: datetime | None = None
    priority: Literal["none", "low", "medium", "high"] = "none"
    tags: list[str] = Field(default_factory=list)
    due_at: DateOrTime | None = None
    remind_at: DateOrTime | None = None
    timezone: str | None = None
    recurrence_rule: str | None = None
    repeat_from: Literal["due", "completion"] = "due"
    created_at: datetime | None = None
    series: _Series | None = None


def read_json(text: str) -> Reading:
    reading = Reading("json")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        reading.problem(None, "file", f"is not valid JSON: {exc.msg} ({where})")
        return reading
    except RecursionError:
        reading.problem(None, "file", "is not a todo-app export: it is nested too deeply")
        return reading
    tasks = _tasks_of(document, reading)
    if tasks is None:
        return reading
    if len(tasks) > MAX_ROWS:
        raise ImportTooLarge(f"more than {MAX_ROWS:,} tasks: split the file")
    for key in HISTORY_KEYS:
        if document.get(key):
            reading.notes.append(f"{key}: history of the exported account, not imported")
    for row, item in enumerate(tasks, 1):
        try:
            reading.drafts.append(_draft(row, _Task.model_validate(item)))
        except ValidationError as exc:
            for error in exc.errors()[:3]:
                where = ".".join(str(p) for p in error["loc"]) or "task"
                reading.problem(row, where, error["msg"])
    return reading


def _tasks_of(document: Any, reading: Reading) -> list[Any] | None:
    if not isinstance(document, dict) or "tasks" not in document:
        reading.problem(None, "file", "is not a todo-app export: an object with tasks is expected")
        return None
    version = document.get("schema_version")
    if version != SCHEMA_VERSION:
        reading.problem(
            None,
            "schema_version",
            f"{version!r} is not understood here: this server reads version {SCHEMA_VERSION}",
        )
        return None
    tasks = document["tasks"]
    if not isinstance(tasks, list):
        reading.problem(None, "tasks", "must be a list of tasks")
        return None
    return tasks


def _draft(row: int, task: _Task) -> Draft:
    fields: dict[str, Any] = {
        "title": task.title,
        "description": task.description,
        "priority": task.priority,
        "tags": task.tags,
        "due_at": task.due_at,
        "remind_at": task.remind_at,
        "recurrence_rule": task.recurrence_rule,
        "repeat_from": task.repeat_from,
    }
    if task.timezone is not None:
        fields["timezone"] = task.timezone
    series = None
    if task.recurrence_rule is not None:
        state = task.series or _Series()
        series = SeriesDraft(
            start_at=state.series_start_at,
            sequence=state.sequence,
            exdates=list(state.exdates),
            key=task.series_id,
        )
    return Draft(
        row=row,
        fields=fields,
        identity=task.id,
        completed=task.status == "completed" or task.completed_at is not None,
        completed_at=task.completed_at,
        created_at=task.created_at,
        series=series,
    )


__all__ = ["read_json"]
