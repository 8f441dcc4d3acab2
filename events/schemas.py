"""The schema of every event type's `data` (docs/reference.md, Events).

One pydantic model per event type. Producers and consumers share them:
`new_event` refuses data that does not match its type's model, and the
`Dispatcher` dead-letters a delivery whose data does not match instead of
handing it to the handler. The JSON Schemas served at
`GET /schemas/events/<type>.json` (and written to docs/schemas/events/) and
docs/asyncapi.yaml are generated from these models; each event's `dataschema`
attribute is the absolute URL of its schema.

An event's data may carry fields its model does not name (a newer producer
adds one before every consumer knows it: additive changes stay compatible);
the nested objects (a task, a series, a notification) allow none, so a
misspelt field there is an error rather than silently lost.
"""

import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from events.topics import EventType

NonEmpty = Annotated[str, Field(min_length=1)]
Priority = Literal["none", "low", "medium", "high"]
Status = Literal["active", "completed"]
RepeatFrom = Literal["due", "completion"]
Channel = Literal["in_app", "email", "webhook", "push"]


class _Object(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class TaskData(_Object):
    """A task as the REST API returns it; its times carry the task zone's offset."""

    id: uuid.UUID
    title: NonEmpty
    description: str | None
    status: Status
    completed_at: AwareDatetime | None
    priority: Priority
    tags: list[str]
    due_at: AwareDatetime | None
    remind_at: AwareDatetime | None
    timezone: NonEmpty
    recurrence_rule: str | None
    repeat_from: RepeatFrom
    is_recurring: bool
    series_id: uuid.UUID
    created_at: AwareDatetime
    updated_at: AwareDatetime
    version: int = Field(ge=1)


class SeriesState(_Object):
    """Where a recurring series stands, for computing its next occurrence."""

    start_at: AwareDatetime | None
    occurrence_at: AwareDatetime | None
    sequence: int = Field(ge=1)
    exdates: list[AwareDatetime]


class TaskCreated(_Data):
    """A task was created (by any door, an import, a restore or a recurrence)."""

    task: TaskData
    previous_task_id: uuid.UUID | None = Field(
        default=None, description="the completed task this occurrence follows"
    )
    imported: bool | None = Field(default=None, description="true when created by an import")
    restored: bool | None = Field(default=None, description="true when a deleted task came back")


class TaskUpdated(_Data):
    """A task's fields changed."""

    task: TaskData
    changed: list[NonEmpty] = Field(description="the names of the fields that changed")


class TaskCompleted(_Data):
    """A task was completed; `series` is what the next occurrence is computed from."""

    task: TaskData
    series: SeriesState


class TaskDeleted(_Data):
    """A task was deleted."""

    task: TaskData
    withdrawn_by: uuid.UUID | None = Field(
        default=None, description="the reopened task whose next occurrence this was"
    )


class TaskOccurrenceGenerated(_Data):
    """The recurring-task service planned a series' next occurrence."""

    series_id: uuid.UUID
    previous_task_id: uuid.UUID
    occurrence_at: AwareDatetime
    sequence: int = Field(ge=1)
    remind_offset_seconds: float | None
    user_id: uuid.UUID


class UserDeleted(_Data):
    """An account was deleted: every service forgets that user's data."""

    user_id: uuid.UUID


class ReminderScheduled(_Data):
    """A task has a reminder to keep."""

    task_id: uuid.UUID
    series_id: uuid.UUID
    title: NonEmpty
    remind_at: AwareDatetime
    due_at: AwareDatetime | None
    timezone: NonEmpty


class ReminderTriggered(_Data):
    """A reminder is due and goes to the user's channels."""

    task_id: uuid.UUID
    title: NonEmpty
    remind_at: AwareDatetime
    due_at: AwareDatetime | None
    timezone: NonEmpty
    fired_at: AwareDatetime


class InAppNotification(_Object):
    """The in-app notification as the REST API returns it."""

    id: uuid.UUID
    kind: NonEmpty
    task_id: uuid.UUID | None
    title: str
    body: str
    created_at: AwareDatetime
    read_at: AwareDatetime | None
    due_at: AwareDatetime | None
    timezone: str | None


class NotificationSent(_Data):
    """A reminder was delivered on one channel."""

    channel: Channel
    reminder_event_id: NonEmpty
    task_id: uuid.UUID | None
    title: str | None
    notification: InAppNotification | None = Field(
        default=None, description="the in-app notification (channel in_app only)"
    )


class NotificationFailed(_Data):
    """A reminder could not be delivered on one channel."""

    channel: Channel
    reminder_event_id: NonEmpty
    task_id: uuid.UUID | None
    title: str | None
    reason: NonEmpty


class ChatMessageReceived(_Data):
    """The assistant received a message."""

    conversation_id: uuid.UUID
    message_id: uuid.UUID
    text: str


class ChatToolCalled(_Data):
    """The assistant called a tool."""

    conversation_id: uuid.UUID
    call_id: NonEmpty
    tool: NonEmpty
    arguments: Any = Field(description="the tool's arguments, as JSON")
    ok: bool
    confirmed: bool


class ChatMessageAnswered(_Data):
    """The assistant finished answering a message."""

    conversation_id: uuid.UUID
    message_id: uuid.UUID
    mode: Literal["model", "offline"]
    tool_calls: int = Field(ge=0)
    awaiting_confirmation: bool


DATA_MODELS: dict[EventType, type[BaseModel]] = {
    EventType.TASK_CREATED: TaskCreated,
    EventType.TASK_UPDATED: TaskUpdated,
    EventType.TASK_COMPLETED: TaskCompleted,
    EventType.TASK_DELETED: TaskDeleted,
    EventType.TASK_OCCURRENCE_GENERATED: TaskOccurrenceGenerated,
    EventType.USER_DELETED: UserDeleted,
    EventType.REMINDER_SCHEDULED: ReminderScheduled,
    EventType.REMINDER_TRIGGERED: ReminderTriggered,
    EventType.NOTIFICATION_SENT: NotificationSent,
    EventType.NOTIFICATION_FAILED: NotificationFailed,
    EventType.CHAT_MESSAGE_RECEIVED: ChatMessageReceived,
    EventType.CHAT_TOOL_CALLED: ChatToolCalled,
    EventType.CHAT_MESSAGE_ANSWERED: ChatMessageAnswered,
}

# Where the schemas are served; bootstrap sets it from EVENT_SCHEMA_BASE_URL
# (default: PUBLIC_URL + /schemas/events).
DEFAULT_SCHEMA_BASE = "http://127.0.0.1:8000/schemas/events"
_schema_base = DEFAULT_SCHEMA_BASE


def set_schema_base(url: str) -> None:
    """Make `dataschema` point under `url` (an absolute http(s) URL)."""
    global _schema_base
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the event schema base must be an absolute http(s) URL, not {url!r}")
    _schema_base = url.rstrip("/")


def schema_url(event_type: str) -> str:
    """The absolute URL of an event type's JSON Schema (its `dataschema`)."""
    return f"{_schema_base}/{event_type}.json"


def schema_file_name(event_type: str) -> str:
    return f"{event_type}.json"


class InvalidEventData(ValueError):
    """An event's data does not match its type's schema, or its type is unknown.
    The message names every field that is wrong and what is wrong with it."""


def _describe(event_type: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"]) or "data"
        problems.append(f"{where}: {error['msg']}")
    return f"invalid {event_type} data: " + "; ".join(problems)


def validate_data(event_type: str, data: Any) -> BaseModel:
    """The data as its type's model; `InvalidEventData` when it does not fit."""
    try:
        model = DATA_MODELS[EventType(event_type)]
    except ValueError:
        known = ", ".join(t.value for t in DATA_MODELS)
        raise InvalidEventData(f"unknown event type {event_type!r}; known types: {known}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidEventData(_describe(event_type, exc)) from exc


def json_schema(event_type: EventType) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an event type's data."""
    schema = DATA_MODELS[event_type].model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
