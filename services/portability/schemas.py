"""View models of the portability routes: the feed secret, the export
document and the import report."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.audit.trail import AuditEntry
from services.notification.inbox import NotificationPublic
from services.tasks.schemas import TaskPublic

SCHEMA_VERSION = 1
FeedKind = Literal["todo", "event"]
ImportFormat = Literal["json", "csv", "ics"]
ExportFormat = Literal["json", "csv"]


class FeedTokenPublic(BaseModel):
    """A calendar feed secret, shown once; only its SHA-256 is kept."""

    token: str
    url: str = Field(description="The feed of VTODOs (Apple Reminders, Thunderbird, …)")
    event_url: str = Field(description="The same tasks as VEVENTs (Google Calendar)")
    created_at: datetime


class SeriesState(BaseModel):
    """Where a task stands in its series (RRULE's DTSTART, skipped dates)."""

    series_start_at: datetime | None
    occurrence_at: datetime | None
    sequence: int
    exdates: list[datetime]


class ExportedTask(TaskPublic):
    series: SeriesState


class ExportedUser(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str | None
    timezone: str


class ExportDocument(BaseModel):
    schema_version: int = SCHEMA_VERSION
    exported_at: datetime
    user: ExportedUser
    tasks: list[ExportedTask]
    notifications: list[NotificationPublic]
    conversations: list[dict[str, Any]] = Field(
        default_factory=list, description="Chat history (the assistant's conversations)"
    )
    audit: list[AuditEntry]


Outcome = Literal["created", "would_create", "duplicate", "skipped"]


class ImportItem(BaseModel):
    row: int = Field(
        description="CSV: the line of the record (the header is 1); "
        "JSON: the position in `tasks`; iCalendar: the n-th VTODO"
    )
    source_id: str | None = Field(description="The record's id or UID in the file")
    title: str | None
    outcome: Outcome
    task_id: uuid.UUID | None = Field(
        description="The task created, or the existing task it duplicates"
    )
    note: str | None = None


class RowProblem(BaseModel):
    row: int | None = Field(description="None when the problem is the file's, not a record's")
    field: str
    message: str


class ImportReport(BaseModel):
    format: ImportFormat | None
    dry_run: bool
    records: int
    created: int = Field(description="Tasks created (in a dry run: that would be created)")
    duplicates: int
    skipped: int
    items: list[ImportItem]
    errors: list[RowProblem]
    notes: list[str]


__all__ = [
    "SCHEMA_VERSION",
    "ExportDocument",
    "ExportFormat",
    "ExportedTask",
    "ExportedUser",
    "FeedKind",
    "FeedTokenPublic",
    "ImportFormat",
    "ImportItem",
    "ImportReport",
    "Outcome",
    "RowProblem",
    "SeriesState",
]
