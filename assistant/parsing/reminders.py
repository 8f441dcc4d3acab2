"""Reminder times: "30 minutes before", "the day before", "at 8am" (on the due day)."""

import re
from datetime import datetime, timedelta

from assistant.parsing.changes import reminder_before
from assistant.parsing.clock import Clock
from assistant.parsing.datetimes import extract_when
from assistant.parsing.lexicon import DEFAULT_REMIND_TIME, NUMBER, PERIOD_TIMES
from assistant.parsing.reading import ReminderOffset
from assistant.parsing.text import to_number

_I = re.IGNORECASE
_BEFORE = r"(?:before(?:hand)?|earlier|ahead(?:\s+of\s+time)?|prior|in\s+advance)\b"
_OFFSET = re.compile(
    rf"\s*(?:(?:about|around|like)\s+)?(?P<n>\d+(?:\.\d+)?|{NUMBER}|half\s+an|a\s+half)\s*"
    rf"(?P<unit>minutes?|mins?|min|m|hours?|hrs?|hr|h|days?|weeks?)\s+{_BEFORE}",
    _I,
)
OFFSET_PHRASE = re.compile(
    rf"\s+(?:(?:about|around)\s+)?(?:\d+(?:\.\d+)?|{NUMBER}|half\s+an)\s*"
    rf"(?:minutes?|mins?|min|m|hours?|hrs?|hr|h|days?|weeks?)\s+{_BEFORE}.*$",
    _I,
)
_DAY_BEFORE = re.compile(
    r"\s*(?:on\s+)?(?:the\s+)?(?P<unit>day|night|evening|morning|week)\s+before\b", _I
)
# Where a relative reminder starts in a longer phrase: "dinner with sam an hour before".
RELATIVE_PHRASE = re.compile(
    rf"(?:^|\s+)(?:(?:about|around)\s+)?(?:(?:\d+(?:\.\d+)?|{NUMBER}|half\s+an)\s*"
    rf"(?:minutes?|mins?|min|m|hours?|hrs?|hr|h|days?|weeks?)\s+{_BEFORE}"
    r"|(?:on\s+)?(?:the\s+)?(?:day|night|evening|morning|week)\s+before\b).*$",
    _I,
)


def _offset(m: re.Match[str]) -> timedelta:
    word = m.group("n").lower()
    amount = 0.5 if "half" in word else float(word) if word[0].isdigit() else to_number(word) or 0
    amount = min(amount, 100_000.0)
    unit = m.group("unit").lower()
    if unit.startswith("d"):
        return timedelta(days=amount)
    if unit.startswith("w"):
        return timedelta(weeks=amount)
    return timedelta(hours=amount) if unit.startswith("h") else timedelta(minutes=amount)


def read_offset(body: str, clock: Clock) -> ReminderOffset | None:
    """A reminder said relative to the due time, at the start of `body`:
    "30 minutes before", "an hour before", "the day before at 10am"."""
    if (m := _OFFSET.match(body)) is not None:
        return ReminderOffset(before=_offset(m))
    if (m := _DAY_BEFORE.match(body)) is None:
        return None
    unit = m.group("unit").lower()
    when, _ = extract_when(body[m.end() :], clock)
    clock_time = when.clock_time if when is not None else None
    return ReminderOffset(
        before=timedelta(days=7 if unit == "week" else 1),
        clock_time=clock_time or PERIOD_TIMES.get(unit),
    )


def reminder_for(body: str, due: datetime | None, clock: Clock) -> datetime | None:
    """When a reminder phrase fires: "30 minutes before", "the day before", "at 8am"."""
    if (offset := read_offset(body, clock)) is not None:
        return reminder_before(due, offset, clock) if due is not None else None
    when, _ = extract_when(body, clock)
    if when is None:
        return None
    if when.day is None and when.instant is None and when.clock_time and due is not None:
        return clock.at(due.date(), when.clock_time)
    return when.resolve(clock, DEFAULT_REMIND_TIME)
