"""The task details a phrase carries: when, how it repeats, priority, tags."""

from dataclasses import dataclass
from datetime import datetime

from assistant.parsing.attributes import extract_priority, extract_tags
from assistant.parsing.clock import Clock
from assistant.parsing.datetimes import When, extract_when
from assistant.parsing.lexicon import DEFAULT_DUE_TIME, DEFAULT_REMIND_TIME
from assistant.parsing.reading import Priority
from assistant.parsing.recurrence import Recurrence, schedule
from assistant.parsing.repeats import extract_recurrence
from assistant.parsing.zones import extract_zone, on_wall_clock_of


@dataclass(frozen=True, slots=True)
class Details:
    rest: str  # the words left once the details are cut out
    due_at: datetime | None = None
    remind_at: datetime | None = None  # the same moment read as a reminder time
    recurrence_rule: str | None = None
    priority: Priority | None = None
    tags: tuple[str, ...] = ()
    when: When | None = None  # the day and time as said (no repeat)

    @property
    def has_changes(self) -> bool:
        return bool(self.due_at or self.recurrence_rule or self.priority or self.tags)


def _recurring(
    rec: Recurrence, when: When | None, clock: Clock
) -> tuple[datetime | None, datetime | None, str]:
    clock_time = when.clock_time if when else None
    start_day = when.day if when else None
    if when is not None and when.instant is not None:
        clock_time, start_day = when.instant.time(), when.instant.date()
    plan = schedule(rec, clock, clock_time, start_day)
    if plan.first is None or clock_time is not None or rec.period is not None:
        return plan.first, plan.first, plan.rule
    return plan.first, clock.at(plan.first.date(), DEFAULT_REMIND_TIME), plan.rule


def read_details(text: str, clock: Clock, *, loose_priority: bool = False) -> Details:
    """Cut the details out of `text`; the rest is what the user called the task."""
    tags, text = extract_tags(text)
    rec, text = extract_recurrence(text, clock)
    named_zone, without_zone = extract_zone(text)
    when, rest = extract_when(without_zone if named_zone else text, clock)
    if when is None and named_zone is not None:  # "tokyo time" without a time is words
        named_zone = None
        when, rest = extract_when(text, clock)
    text = rest
    priority, text = extract_priority(text, loose=loose_priority)
    if rec is not None:
        due_at, remind_at, rule = _recurring(rec, when, clock)
        return Details(text, due_at, remind_at, rule, priority, tags)
    if when is None:
        return Details(text, priority=priority, tags=tags)
    due_at = when.resolve(clock, DEFAULT_DUE_TIME)
    remind_at = when.resolve(clock, DEFAULT_REMIND_TIME)
    if named_zone is not None and when.instant is None and due_at and remind_at:
        due_at = on_wall_clock_of(due_at, named_zone)
        remind_at = on_wall_clock_of(remind_at, named_zone)
        return Details(text, due_at, remind_at, None, priority, tags)
    return Details(text, due_at, remind_at, None, priority, tags, when)
