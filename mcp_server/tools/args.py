"""Argument types the tools share, named after the REST task's fields.

Descriptions are short on purpose: every character here is sent to the model
on every turn. The conventions they all follow (wall-clock times, RRULE) are
explained once, in the server instructions.
"""

import uuid
from typing import Annotated, Literal

from pydantic import Field

from services.tasks.domain.model import MAX_DESCRIPTION, MAX_TAG, MAX_TAGS, MAX_TITLE
from services.tasks.schemas import PriorityName, RepeatFromName

TaskId = Annotated[uuid.UUID, Field(description="From find_tasks")]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]
Description = Annotated[str | None, Field(max_length=MAX_DESCRIPTION)]
Priority = PriorityName | None
Tags = Annotated[
    list[Annotated[str, Field(max_length=MAX_TAG)]] | None,
    Field(max_length=MAX_TAGS, description="Lowercase words without #"),
]
# Times are strings, not `format: date-time`: a wall-clock time without an
# offset is the normal case (the task's zone applies), and RFC 3339 would
# push models to guess offsets, which they get wrong across DST changes.
When = Annotated[str | None, Field(max_length=40, description="Wall-clock time or date")]
Zone = Annotated[str | None, Field(max_length=64, description="IANA name; default the user's")]
Rule = Annotated[str | None, Field(max_length=500, description="RRULE body; needs due_at")]
RepeatFrom = Annotated[
    RepeatFromName | None,
    Field(description="due: by schedule; completion: counted from when done"),
]
Clearable = Literal["description", "due_at", "remind_at", "recurrence_rule"]

__all__ = [
    "Clearable",
    "Description",
    "Priority",
    "RepeatFrom",
    "Rule",
    "Tags",
    "TaskId",
    "Title",
    "When",
    "Zone",
]
