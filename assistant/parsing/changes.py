"""What a change said in words makes of a task's current times.

A new day keeps the task's time of day and a new time keeps its day; a shift
("by 2 days", "an hour earlier") moves the current due time; a reminder "an hour
before" or "the day before at 10am" counts back from the due time. Whole days
count on the wall clock, so "2 days later" keeps 9:00 across a DST change, while
hours and minutes are real time.
"""

from datetime import UTC, datetime, timedelta

from assistant.parsing.clock import Clock
from assistant.parsing.lexicon import DEFAULT_DUE_TIME
from assistant.parsing.reading import DueChange, ReminderOffset


def _moved(moment: datetime, delta: timedelta, clock: Clock) -> datetime | None:
    """`moment` plus `delta`: whole days on the wall clock, the rest in real time."""
    sign = -1 if delta < timedelta(0) else 1
    size = abs(delta)
    days, rest = timedelta(days=size.days), size - timedelta(days=size.days)
    try:
        wall = moment.astimezone(clock.zone).replace(tzinfo=None) + sign * days
        shifted = clock.localize(wall).astimezone(UTC) + sign * rest
        return shifted.astimezone(clock.zone)
    except (OverflowError, ValueError):
        return None


def changed_due(current: datetime | None, change: DueChange, clock: Clock) -> datetime | None:
    """The due time after `change`; None when a shift has no due time to move."""
    here = current.astimezone(clock.zone) if current is not None else None
    if change.shift is not None:
        return None if here is None else _moved(here, change.shift, clock)
    if change.day is not None:
        keep = here.time().replace(tzinfo=None) if here is not None else DEFAULT_DUE_TIME
        return clock.at(change.day, change.clock_time or keep)
    if change.clock_time is not None:
        if here is not None:
            return clock.at(here.date(), change.clock_time)
        return clock.localize(clock.next_wall_time(change.clock_time))
    return here


def reminder_before(due: datetime, offset: ReminderOffset, clock: Clock) -> datetime | None:
    """When a reminder `offset` before `due` fires."""
    here = due.astimezone(clock.zone)
    if offset.clock_time is not None:
        try:
            return clock.at(here.date() - timedelta(days=offset.before.days), offset.clock_time)
        except (OverflowError, ValueError):
            return None
    return _moved(here, -offset.before, clock)


__all__ = ["changed_due", "reminder_before"]
