"""iCalendar: each VTODO is a task (VEVENTs are not tasks and are left out).

A VTODO with RRULE becomes a recurring task whose series starts at its
DTSTART/DUE; occurrences marked done by an override (RECURRENCE-ID with
STATUS:COMPLETED) are behind it, so the task is due at the first one still open.
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component

from services.errors import InvalidInput
from services.portability.errors import ImportTooLarge
from services.portability.importing.drafts import (
    MAX_EXDATES,
    MAX_ROWS,
    Draft,
    Reading,
    SeriesDraft,
)
from services.shared.timeutil import DUE_TIME_OF_DAY, localize, to_instant, zone
from services.tasks.domain.recurrence import Recurrence, parse_rule

# RFC 5545 §3.8.1.9: 1-4 high, 5 medium, 6-9 low, 0 undefined.
NAMES = {
    "title": "SUMMARY",
    "description": "DESCRIPTION",
    "due_at": "DUE",
    "remind_at": "VALARM",
    "priority": "PRIORITY",
    "tags": "CATEGORIES",
    "timezone": "TZID",
    "recurrence_rule": "RRULE",
}
_PARSE_ERRORS = (ValueError, KeyError, IndexError, TypeError)


def read_ics(text: str, *, timezone: str) -> Reading:
    """`timezone` is the zone of floating times (no TZID, no Z)."""
    reading = Reading("ics")
    if "BEGIN:VCALENDAR" not in text[:2000].upper():
        reading.problem(None, "file", "is not iCalendar: it must begin with BEGIN:VCALENDAR")
        return reading
    try:
        calendars = Calendar.from_ical(text, multiple=True)
    except _PARSE_ERRORS as exc:
        _locate(text, reading, exc)
        return reading
    todos = [c for cal in calendars for c in cal.walk("VTODO")]
    events = sum(len(cal.walk("VEVENT")) for cal in calendars)
    if events:
        reading.notes.append(f"{events} VEVENT(s) left out: only VTODOs are tasks")
    done: dict[str, set[datetime]] = defaultdict(set)
    masters: list[tuple[int, Component]] = []
    for row, todo in enumerate(todos, 1):
        if todo.get("RECURRENCE-ID") is None:
            masters.append((row, todo))
        elif str(todo.get("STATUS", "")).upper() == "COMPLETED":
            moment = _done_at(todo, zone(timezone))
            if moment is not None:
                done[_uid(todo) or ""].add(moment)
    if len(masters) > MAX_ROWS:
        raise ImportTooLarge(f"more than {MAX_ROWS:,} VTODOs: split the file")
    for row, todo in masters:
        try:
            reading.drafts.append(_draft(row, todo, done.get(_uid(todo) or "", set()), timezone))
        except InvalidInput as exc:
            problem = exc.problems[0]
            reading.problem(row, NAMES.get(problem.field, problem.field), problem.message)
    return reading


def _done_at(todo: Component, tz: ZoneInfo) -> datetime | None:
    """The occurrence an override marks done; one we cannot read marks none."""
    value = getattr(todo.get("RECURRENCE-ID"), "dt", None)
    return _instant(value, tz) if isinstance(value, datetime | date) else None


def _uid(todo: Component) -> str | None:
    value = todo.get("UID")
    return str(value).strip()[:255] or None if value is not None else None


def _one(todo: Component, name: str) -> Any:
    value = todo.get(name)
    if isinstance(value, list):
        raise InvalidInput(name, "is given more than once")
    return value


def _zone_of(value: date | datetime, default: str) -> str:
    """The IANA zone of a TZID; UTC, floating and unknown zones are the user's
    (the instant is kept all the same)."""
    tz = value.tzinfo if isinstance(value, datetime) else None
    if isinstance(tz, ZoneInfo) and tz.key not in ("UTC", "Etc/UTC"):
        return tz.key
    return default


def _instant(value: date | datetime, tz: ZoneInfo, wall: time = DUE_TIME_OF_DAY) -> datetime:
    if not isinstance(value, datetime):
        value = datetime.combine(value, wall)
    return (localize(value, tz) if value.tzinfo is None else value).astimezone(UTC)


def _draft(row: int, todo: Component, done: set[datetime], default_tz: str) -> Draft:
    summary = _one(todo, "SUMMARY")
    if summary is None or not str(summary).strip():
        raise InvalidInput("SUMMARY", "is missing: a task needs a title")
    fields: dict[str, Any] = {"title": str(summary)}
    draft = Draft(row=row, fields=fields, identity=_uid(todo), names=dict(NAMES))
    description = _one(todo, "DESCRIPTION")
    if description is not None:
        fields["description"] = str(description)
    fields["priority"] = _priority(_one(todo, "PRIORITY"))
    fields["tags"] = _tags(todo)
    status = str(_one(todo, "STATUS") or "").upper()
    completed = _one(todo, "COMPLETED")
    if status == "CANCELLED":
        draft.skip_reason = "cancelled in the calendar"
    if status == "COMPLETED" or completed is not None:
        draft.completed = True
        draft.completed_at = None if completed is None else _instant(completed.dt, ZoneInfo("UTC"))
    created = _one(todo, "CREATED")
    if created is not None and isinstance(created.dt, datetime):
        draft.created_at = _instant(created.dt, ZoneInfo("UTC"))
    due_prop = _one(todo, "DUE") or _one(todo, "DTSTART")
    if due_prop is not None:
        _schedule(draft, todo, due_prop.dt, done, default_tz)
    elif _one(todo, "RRULE") is not None:
        raise InvalidInput("DUE", "a repeating task needs DUE or DTSTART")
    return draft


def _priority(value: Any) -> str:
    if value is None:
        return "none"
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput("PRIORITY", f"{str(value)[:20]!r} is not a number 0..9") from None
    if not 0 <= number <= 9:
        raise InvalidInput("PRIORITY", f"{number} is not 0..9")
    return "none" if number == 0 else "high" if number <= 4 else "medium" if number == 5 else "low"


def _tags(todo: Component) -> list[str]:
    """Tags have no spaces or commas here: "Work Stuff" becomes work-stuff."""
    value = todo.get("CATEGORIES")
    found = []
    for group in value if isinstance(value, list) else [] if value is None else [value]:
        for category in getattr(group, "cats", []):
            tag = "-".join(str(category).replace(",", " ").split()).lower()
            if tag:
                found.append(tag)
    return found


def _schedule(
    draft: Draft, todo: Component, due: date | datetime, done: set[datetime], default_tz: str
) -> None:
    if not isinstance(due, datetime | date):
        raise InvalidInput("DUE", "is not a date or a date-time")
    tz_name = _zone_of(due, default_tz)
    if tz_name != default_tz:
        draft.fields["timezone"] = tz_name
    tz = zone(tz_name)
    start = to_instant(due, tz, field="due_at")
    rule = _one(todo, "RRULE")
    current = start
    if rule is not None:
        body = parse_rule(rule.to_ical().decode())
        draft.fields["recurrence_rule"] = body
        wall = start.astimezone(tz).time()
        exdates = [_instant(d, tz, wall) for d in _exdates(todo)]
        if len(exdates) > MAX_EXDATES:
            raise InvalidInput("EXDATE", f"more than {MAX_EXDATES} excluded dates")
        found, sequence = _current(Recurrence(body, tz, start, frozenset(exdates)), done)
        if found is None:  # every occurrence is done: the series is over
            draft.completed = True
        current = start if found is None else found
        draft.series = SeriesDraft(start_at=start, sequence=sequence, exdates=exdates)
    draft.fields["due_at"] = current
    draft.fields["remind_at"] = _reminder(draft, todo, start, current)


def _exdates(todo: Component) -> Iterator[date | datetime]:
    found = todo.get("EXDATE")
    for group in found if isinstance(found, list) else [found] if found is not None else []:
        for item in group.dts:
            yield item.dt


def _current(series: Recurrence, done: set[datetime]) -> tuple[datetime | None, int]:
    """The first occurrence not done, and its number in the series (skipped
    dates count, as they do when an occurrence is skipped here)."""
    for number, instance in enumerate(series, 1):
        if instance.astimezone(UTC) not in done:
            return instance, number + sum(1 for d in series.exdates if d < instance)
        if number > len(done):
            break
    return None, 1


def _reminder(draft: Draft, todo: Component, start: datetime, due: datetime) -> datetime | None:
    """The first VALARM, moved along with the occurrence the task is due at."""
    for alarm in todo.walk("VALARM"):
        trigger = alarm.get("TRIGGER")
        if trigger is None:
            continue
        value = trigger.dt
        if isinstance(value, timedelta):
            related_end = str(trigger.params.get("RELATED", "START")).upper() == "END"
            base = _dtstart(todo, start) if not related_end else start
            offset = (base - start) + value
        elif isinstance(value, datetime):
            offset = _instant(value, ZoneInfo("UTC")) - start
        else:
            continue
        if offset > timedelta(0):
            draft.notes.append("the alarm comes after the due time: left out")
            return None
        return due + offset
    return None


def _dtstart(todo: Component, due: datetime) -> datetime:
    prop = todo.get("DTSTART")
    if prop is None or isinstance(prop, list) or not isinstance(prop.dt, datetime):
        return due
    return _instant(prop.dt, ZoneInfo("UTC"))


def _locate(text: str, reading: Reading, error: Exception) -> None:
    """The whole calendar did not parse: find the VTODOs and properties that
    do not, so each is reported where it is."""
    found = False
    for row, block in enumerate(_todo_blocks(text), 1):
        try:
            Calendar.from_ical(_wrap(block))
        except _PARSE_ERRORS as exc:
            found = True
            name, message = _bad_property(block, exc)
            reading.problem(row, name, message)
    if not found:
        reading.problem(None, "file", f"is not valid iCalendar: {error}")


def _unfolded(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line[1:]
        elif line.strip():
            lines.append(line)
    return lines


def _todo_blocks(text: str) -> Iterator[list[str]]:
    block: list[str] | None = None
    depth = 0
    for line in _unfolded(text):
        upper = line.strip().upper()
        if upper == "BEGIN:VTODO" and block is None:
            block, depth = [], 0
        if block is not None:
            block.append(line)
            depth += upper.startswith("BEGIN:") - upper.startswith("END:")
            if depth == 0:
                yield block
                block = None


def _wrap(lines: list[str]) -> str:
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", *lines, "END:VCALENDAR", ""])


def _bad_property(block: list[str], error: Exception) -> tuple[str, str]:
    for line in block[1:-1]:
        name = line.split(":", 1)[0].split(";", 1)[0].upper()
        if name in ("BEGIN", "END"):
            continue
        try:
            Calendar.from_ical(_wrap(["BEGIN:VTODO", line, "END:VTODO"]))
        except _PARSE_ERRORS as exc:
            return name, f"{line.split(':', 1)[-1][:40]!r}: {exc}"
    return "VTODO", f"cannot be read: {error}"


__all__ = ["read_ics"]
