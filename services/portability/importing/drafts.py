"""What each reader makes of a file: one draft per record, in the task's own
field names, plus the problems it found. Planning and storing are shared."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.portability.schemas import ImportFormat, RowProblem

MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024
MAX_EXDATES = 1000


@dataclass(slots=True)
class SeriesDraft:
    """A series' state carried over: its start (RRULE's DTSTART), this
    occurrence's number and the skipped dates."""

    start_at: datetime | None = None
    sequence: int = 1
    exdates: list[datetime] = field(default_factory=list)
    key: str | None = None  # rows with the same key become one series


@dataclass(slots=True)
class Draft:
    row: int
    fields: dict[str, Any]
    identity: str | None = None  # the record's id or UID in the file
    completed_at: datetime | None = None
    completed: bool = False
    created_at: datetime | None = None
    series: SeriesDraft | None = None
    skip_reason: str | None = None  # imported as nothing, on purpose (e.g. cancelled)
    notes: list[str] = field(default_factory=list)
    # The file's name for a task field, so problems name what the file says.
    names: dict[str, str] = field(default_factory=dict)

    def name_of(self, task_field: str) -> str:
        return self.names.get(task_field, task_field)

    @property
    def title(self) -> str | None:
        value = self.fields.get("title")
        return value.strip()[:200] if isinstance(value, str) else None


@dataclass(slots=True)
class Reading:
    format: ImportFormat | None
    drafts: list[Draft] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, row: int | None, name: str, message: str) -> None:
        self.problems.append(RowProblem(row=row, field=name, message=message))


__all__ = [
    "MAX_BYTES",
    "MAX_EXDATES",
    "MAX_ROWS",
    "Draft",
    "Reading",
    "SeriesDraft",
]
