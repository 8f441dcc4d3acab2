"""Recurrence rules (RFC 5545 RRULE bodies), read in the task's IANA zone.

python-dateutil computes the occurrences; this module only checks a rule so
a bad one is rejected with a message naming the bad part, and turns dateutil's
naive wall-clock occurrences into instants in the task's zone (DST-correct).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from services.errors import InvalidInput
from services.shared.timeutil import localize

FIELD = "recurrence_rule"
FREQUENCIES = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY = re.compile(r"^([+-]?)(\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_UNTIL = re.compile(r"^(\d{8})(T(\d{6})(Z?))?$")
_INT = re.compile(r"^[+-]?\d{1,4}$")
# name -> (lowest, highest, may be negative) for the integer list parts.
_INT_LISTS: dict[str, tuple[int, int, bool]] = {
    "BYSECOND": (0, 60, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
PARTS = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST", *_INT_LISTS)
# Iterating must end: a rule that never matches would otherwise make
# dateutil scan every year to 9999.
_HORIZON = timedelta(days=366 * 200)


def _bad(part: str, why: str) -> InvalidInput:
    return InvalidInput(FIELD, f"{part}: {why}")


def _split(body: str) -> list[tuple[str, str]]:
    text = body.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if not text:
        raise InvalidInput(FIELD, "is empty: give an RRULE body like FREQ=WEEKLY;BYDAY=MO")
    if len(text) > 500:
        raise InvalidInput(FIELD, "is longer than 500 characters")
    parts: list[tuple[str, str]] = []
    for raw in filter(None, (p.strip() for p in text.split(";"))):
        name, eq, value = raw.partition("=")
        name, value = name.strip().upper(), value.strip().upper()
        if not eq or not name or not value:
            raise _bad(raw, "each part must be NAME=VALUE, e.g. FREQ=DAILY")
        if name == "DTSTART":
            raise _bad(raw, "DTSTART is not part of the rule: the task's due_at is the start")
        if name not in PARTS:
            raise _bad(raw, f"unknown part {name}; the parts are {', '.join(PARTS)}")
        if any(seen == name for seen, _ in parts):
            raise _bad(raw, f"{name} is given twice")
        parts.append((name, value))
    return parts


def _check_int_list(name: str, value: str) -> None:
    low, high, signed = _INT_LISTS[name]
    for item in value.split(","):
        if not _INT.match(item):
            raise _bad(f"{name}={value}", f"{item!r} is not a whole number")
        n = int(item)
        if not (low <= abs(n) <= high) or (n < 0 and not signed) or (n == 0 and low > 0):
            span = f"{low}..{high}" + (f" or -{high}..-1" if signed else "")
            raise _bad(f"{name}={value}", f"{item} is outside {span}")


def _check_part(name: str, value: str, freq: str) -> None:
    part = f"{name}={value}"
    if name == "FREQ" and value not in FREQUENCIES:
        more = (
            " (more often than hourly is not supported)"
            if value in ("MINUTELY", "SECONDLY")
            else ""
        )
        raise _bad(part, f"FREQ must be one of {', '.join(FREQUENCIES)}{more}")
    if name in ("INTERVAL", "COUNT"):
        top = 1000 if name == "INTERVAL" else 10000
        if not value.isdigit() or not 1 <= int(value) <= top:
            raise _bad(part, f"{name} must be a whole number from 1 to {top}")
    if name == "UNTIL" and not _UNTIL.match(value):
        raise _bad(part, "UNTIL must be a date YYYYMMDD or a UTC time YYYYMMDDTHHMMSSZ")
    if name == "WKST" and value not in WEEKDAYS:
        raise _bad(part, f"WKST must be one of {', '.join(WEEKDAYS)}")
    if name == "BYDAY":
        for item in value.split(","):
            match = _BYDAY.match(item)
            if not match:
                raise _bad(part, f"{item!r} is not a weekday like MO, 2TU or -1FR")
            if match.group(2) is not None:
                if freq not in ("MONTHLY", "YEARLY"):
                    raise _bad(part, "numbered weekdays like -1FR need FREQ=MONTHLY or YEARLY")
                if not 1 <= int(match.group(2)) <= 53:
                    raise _bad(part, f"{item!r}: the number must be 1..53 or -53..-1")
    if name in _INT_LISTS:
        _check_int_list(name, value)


def parse_rule(body: str) -> str:
    """Check an RRULE body; return it normalised (upper case, FREQ first)."""
    parts = _split(body)
    values = dict(parts)
    freq = values.get("FREQ")
    if freq is None:
        raise InvalidInput(FIELD, "FREQ is missing: start the rule with FREQ=DAILY, WEEKLY, …")
    if "COUNT" in values and "UNTIL" in values:
        raise InvalidInput(FIELD, "COUNT and UNTIL: use one of them, not both")
    for name, value in parts:
        _check_part(name, value, freq)
    ordered = [("FREQ", freq)] + [(n, v) for n, v in parts if n != "FREQ"]
    normalised = ";".join(f"{n}={v}" for n, v in ordered)
    try:
        rrulestr(_without_until(normalised), dtstart=datetime(2026, 1, 1))
    except (ValueError, TypeError) as exc:
        raise InvalidInput(FIELD, f"{normalised}: {exc}") from None
    return normalised


def _without_until(body: str) -> str:
    return ";".join(p for p in body.split(";") if not p.startswith("UNTIL="))


def _until_wall(value: str, tz: ZoneInfo) -> datetime:
    """UNTIL as a naive wall-clock time in `tz` (dateutil wants it naive)."""
    match = _UNTIL.match(value)
    assert match is not None
    day = datetime.strptime(match.group(1), "%Y%m%d")
    if match.group(2) is None:  # a DATE is inclusive of the whole day
        return day.replace(hour=23, minute=59, second=59)
    moment = datetime.strptime(match.group(1) + match.group(3), "%Y%m%d%H%M%S")
    if match.group(4):
        return moment.replace(tzinfo=UTC).astimezone(tz).replace(tzinfo=None)
    return moment


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A series: its rule, its zone, its first occurrence and skipped dates."""

    rule: str
    tz: ZoneInfo
    start: datetime
    exdates: frozenset[datetime] = field(default_factory=frozenset)

    def _rrule(self) -> rrule:
        wall_start = self.start.astimezone(self.tz).replace(tzinfo=None)
        parsed = rrulestr(_without_until(self.rule), dtstart=wall_start)
        assert isinstance(parsed, rrule)
        until = dict(p.split("=", 1) for p in self.rule.split(";")).get("UNTIL")
        horizon = wall_start + _HORIZON
        bound = min(_until_wall(until, self.tz), horizon) if until else horizon
        if "COUNT=" in self.rule:
            return parsed
        return parsed.replace(until=bound)

    def __iter__(self) -> Iterator[datetime]:
        """Every occurrence as an instant in the zone, skipping EXDATEs."""
        skipped = {d.astimezone(UTC) for d in self.exdates}
        seen: set[datetime] = set()
        for wall in self._rrule():
            instant = localize(wall, self.tz)
            key = instant.astimezone(UTC)
            # Two wall times can name one instant across a DST gap; keep one.
            if key in skipped or key in seen:
                continue
            seen.add(key)
            yield instant

    def after(self, moment: datetime, *, inclusive: bool = False) -> datetime | None:
        for instant in self:
            if instant > moment or (inclusive and instant == moment):
                return instant
        return None

    def upcoming(self, moment: datetime, count: int, *, inclusive: bool = True) -> list[datetime]:
        found: list[datetime] = []
        for instant in self:
            if instant > moment or (inclusive and instant == moment):
                found.append(instant)
                if len(found) == count:
                    break
        return found


def _count(rule: str) -> int | None:
    for part in rule.split(";"):
        if part.startswith("COUNT="):
            return int(part[len("COUNT=") :])
    return None


def reminder_lead(due_at: datetime | None, remind_at: datetime | None) -> timedelta | None:
    """How long before the due time the reminder comes; None without either.

    An occurrence that moves (skipped, or the next one made) keeps this lead:
    its reminder is its new due time minus the lead."""
    return None if due_at is None or remind_at is None else due_at - remind_at


@dataclass(frozen=True, slots=True)
class Series:
    """One task's place in its recurring series: the rule, the zone, the
    series' first occurrence (DTSTART: COUNT and UNTIL count from it), this
    occurrence and its number, the skipped dates and what the next
    occurrence counts from (the schedule, or the completion)."""

    rule: str
    tz: ZoneInfo
    start: datetime
    occurrence_at: datetime
    sequence: int = 1
    exdates: frozenset[datetime] = field(default_factory=frozenset)
    from_completion: bool = False

    def after_skipping(self) -> datetime | None:
        """The occurrence that follows this one once it is an EXDATE, or
        None when this is the series' last occurrence."""
        skipped = Recurrence(self.rule, self.tz, self.start, self.exdates | {self.occurrence_at})
        return skipped.after(self.occurrence_at)

    def after_completion(self, completed_at: datetime) -> datetime | None:
        """The occurrence that follows this one, completed at `completed_at`,
        or None when the series has ended.

        By the schedule ("due"): the first occurrence of the series after
        both this occurrence and the completion, so a task done late comes
        back once, at its next time ahead, not once per missed occurrence;
        COUNT and UNTIL count from the series' original start.

        From completion ("every 3 days after I last did it"): the rule
        restarted on the completion day at the task's time of day; COUNT
        counts completions."""
        if not self.from_completion:
            series = Recurrence(self.rule, self.tz, self.start, self.exdates)
            return series.after(max(self.occurrence_at, completed_at))
        count = _count(self.rule)
        if count is not None and self.sequence >= count:
            return None
        local_time = self.occurrence_at.astimezone(self.tz).time()
        day = completed_at.astimezone(self.tz).date()
        anchor = localize(datetime.combine(day, local_time), self.tz)
        without_count = ";".join(p for p in self.rule.split(";") if not p.startswith("COUNT="))
        return Recurrence(without_count, self.tz, anchor).after(anchor)


@dataclass(frozen=True, slots=True)
class NextOccurrence:
    """What the next task of a series is made from: its occurrence time
    (also its due time), its number in the series, and the reminder's lead."""

    occurrence_at: datetime
    sequence: int
    remind_lead: timedelta | None = None


def next_occurrence(
    series: Series, completed_at: datetime, remind_lead: timedelta | None
) -> NextOccurrence | None:
    """The next occurrence after a completed one, or None: the series ended."""
    following = series.after_completion(completed_at)
    if following is None:
        return None
    return NextOccurrence(following, series.sequence + 1, remind_lead)
