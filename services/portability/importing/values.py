"""Reading one value of a record, with a message that says what to write."""

import re
from datetime import date, datetime

from pydantic import TypeAdapter, ValidationError

from services.errors import InvalidInput
from services.tasks.schemas import DateOrTime

_WHEN: TypeAdapter[datetime | date] = TypeAdapter(DateOrTime)
_TAG_SPLIT = re.compile(r"[,;\s]+")
# Pydantic would read "1700000000" as a Unix time; a file means a calendar date.
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}")
PRIORITIES = ("none", "low", "medium", "high")
STATUSES = ("active", "completed")
REPEAT_FROM = ("due", "completion")


def when(name: str, value: str) -> datetime | date:
    """A date (YYYY-MM-DD) or a date-time (RFC 3339; without an offset it is
    wall-clock time in the task's timezone)."""
    text = value.strip()
    try:
        if not _DATE_LIKE.match(text):
            raise ValueError(text)
        return _WHEN.validate_python(text)
    except (ValidationError, ValueError):
        raise InvalidInput(
            name,
            f"{value[:40]!r} is not a date (YYYY-MM-DD) or a date-time "
            "(YYYY-MM-DDTHH:MM, optionally with an offset like +02:00)",
        ) from None


def instant(name: str, value: str) -> datetime:
    """A moment that must carry its offset (completion and creation times)."""
    parsed = when(name, value)
    if not isinstance(parsed, datetime) or parsed.tzinfo is None:
        raise InvalidInput(name, f"{value[:40]!r} needs a time with an offset, e.g. Z or +02:00")
    return parsed


def choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    word = value.strip().lower()
    if word not in allowed:
        raise InvalidInput(name, f"{value[:40]!r} is not one of {', '.join(allowed)}")
    return word


def tag_list(value: str) -> list[str]:
    return [t for t in _TAG_SPLIT.split(value.strip()) if t]


__all__ = ["PRIORITIES", "REPEAT_FROM", "STATUSES", "choice", "instant", "tag_list", "when"]
