"""A repeat pattern as an RFC 5545 RRULE body, and its first occurrence (dateutil.rrule)."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY, rrule, weekday

from assistant.parsing.clock import Clock
from assistant.parsing.lexicon import DEFAULT_DUE_TIME, PERIOD_TIMES, RRULE_DAYS

Frequency = Literal["HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]
_FREQUENCIES: dict[Frequency, Literal[0, 1, 2, 3, 4, 5, 6]] = {
    "HOURLY": HOURLY, "DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Recurrence:
    """One repeat pattern; `weekdays` holds (0=Monday.., ordinal or None) pairs."""

    freq: Frequency
    interval: int = 1
    weekdays: tuple[tuple[int, int | None], ...] = ()
    month_days: tuple[int, ...] = ()
    months: tuple[int, ...] = ()
    period: str | None = None
    count: int | None = None
    until: date | None = None
    start: date | None = None
    lasting: tuple[int, str] | None = None

    def matching(self, dtstart: datetime) -> rrule:
        """Every time from `dtstart` that fits the pattern, whatever the interval, count
        or end: the first of them is where the repeat starts."""
        return rrule(
            _FREQUENCIES[self.freq],
            dtstart=dtstart,
            byweekday=[weekday(day, n) for day, n in self.weekdays] or None,
            bymonthday=list(self.month_days) or None,
            bymonth=list(self.months) or None,
        )

    def body(self, until_stamp: str | None) -> str:
        parts = [f"FREQ={self.freq}"]
        if self.interval > 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.months:
            parts.append("BYMONTH=" + ",".join(str(m) for m in self.months))
        if self.month_days:
            parts.append("BYMONTHDAY=" + ",".join(str(d) for d in self.month_days))
        if self.weekdays:
            days = (f"{n if n else ''}{RRULE_DAYS[day]}" for day, n in self.weekdays)
            parts.append("BYDAY=" + ",".join(days))
        if self.count:
            parts.append(f"COUNT={self.count}")
        elif until_stamp:
            parts.append(f"UNTIL={until_stamp}")
        return ";".join(parts)


@dataclass(frozen=True, slots=True)
class Schedule:
    rule: str
    first: datetime | None  # aware; None when the rule has no occurrence left


def _first_day(rec: Recurrence, dtstart: datetime) -> datetime | None:
    try:
        return next(iter(rec.matching(dtstart)), None)
    except (ValueError, OverflowError):
        return None


def _until(rec: Recurrence, first: datetime | None) -> date | None:
    if rec.until is not None or rec.lasting is None or first is None:
        return rec.until
    number, unit = rec.lasting
    steps = {
        "day": relativedelta(days=number),
        "week": relativedelta(weeks=number),
        "month": relativedelta(months=number),
        "year": relativedelta(years=number),
    }
    try:
        return first.date() + steps[unit] - timedelta(days=1)
    except (ValueError, OverflowError):
        return None


def schedule(
    rec: Recurrence, clock: Clock, clock_time: time | None, start_day: date | None
) -> Schedule:
    """The RRULE body and the first occurrence at or after now (or after `start_day`).

    The first occurrence is the first matching day, whatever the interval: "every other
    week on monday" said on a Sunday starts tomorrow, and the interval counts from there.
    """
    at = clock_time or (PERIOD_TIMES[rec.period] if rec.period else DEFAULT_DUE_TIME)
    earliest = clock.next_wall_time(at)
    if rec.freq == "HOURLY" and clock_time is None:  # every N hours: from the next full hour
        earliest = clock.now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        at = earliest.time()
    begin = rec.start or start_day
    if begin is not None:
        earliest = max(earliest, datetime.combine(begin, at))
    # The first matching day, with the interval counted from it, so it is itself the
    # rule's first occurrence unless an end date comes before it.
    found = _first_day(rec, earliest)
    dtstart = found or earliest
    until_day = None if rec.count else _until(rec, dtstart)
    until_wall = datetime.combine(until_day, time(23, 59, 59)) if until_day else None
    first = found if found is not None and (until_wall is None or found <= until_wall) else None
    stamp = clock.utc_stamp(until_wall) if until_wall else None
    return Schedule(rec.body(stamp), clock.localize(first) if first else None)
