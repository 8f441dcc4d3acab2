"""How a stored series is laid out in the feed, on built tasks (no database):
long histories start at the current occurrence without changing where the
series ends, and a series repeated from completion counts what is left."""

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar

from services.portability.feed_series import MAX_HISTORY, lay_out
from services.portability.ical_feed import build_feed
from services.tasks.domain.model import RepeatFrom, Status, Task
from services.tasks.domain.recurrence import Recurrence
from tests.integration.portability.conftest import expand

NY = ZoneInfo("America/New_York")


def series_task(
    rule: str,
    start: datetime,
    at: datetime,
    *,
    sequence: int = 1,
    repeat_from: RepeatFrom = RepeatFrom.DUE,
    status: Status = Status.ACTIVE,
) -> Task:
    task_id = uuid.uuid4()
    return Task(
        id=task_id,
        user_id=task_id,
        title="t",
        timezone="America/New_York",
        series_id=task_id,
        created_at=start,
        updated_at=start,
        status=status,
        completed_at=at if status is Status.COMPLETED else None,
        due_at=at,
        recurrence_rule=rule,
        repeat_from=repeat_from,
        occurrence_at=at,
        series_start_at=start,
        sequence=sequence,
    )


def parsed(tasks: list[Task]) -> Calendar:
    calendar = Calendar.from_ical(build_feed(tasks, kind="todo", name="t"))
    assert isinstance(calendar, Calendar)
    return calendar


def test_a_long_history_starts_at_the_current_occurrence() -> None:
    start = datetime(2026, 1, 1, 9, tzinfo=NY)
    rule = "FREQ=HOURLY;INTERVAL=2;COUNT=3000"
    series = Recurrence(rule, NY, start)
    current = series.upcoming(start, MAX_HISTORY + 200)[-1]
    head = series_task(rule, start, current, sequence=MAX_HISTORY + 200)
    layout = lay_out([head])
    assert layout.start == current.astimezone(NY)
    assert layout.rule is not None
    assert "COUNT" not in layout.rule
    assert layout.exdates == []
    last = list(series)[-1]
    assert layout.rule.endswith("UNTIL=" + last.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    theirs = expand(parsed([head]), "VTODO", current, 5000)
    assert theirs == [t for t in series if t >= current]


def test_passed_occurrences_are_excluded_and_done_ones_overridden() -> None:
    start = datetime(2027, 3, 1, 8, tzinfo=NY)
    rule = "FREQ=DAILY"
    done = series_task(rule, start, start, status=Status.COMPLETED)
    # Completed five days late: the occurrences between never became tasks.
    head = series_task(rule, start, start + timedelta(days=6), sequence=2)
    head.series_id = done.series_id
    layout = lay_out([done, head])
    assert [d.day for d in layout.exdates] == [2, 3, 4, 5, 6]
    assert layout.overrides == [done]
    starts = expand(parsed([done, head]), "VTODO", start, 4)
    assert [s.day for s in starts] == [1, 7, 8, 9]


def test_from_completion_the_series_starts_now_and_counts_what_is_left() -> None:
    start = datetime(2027, 3, 1, 8, tzinfo=NY)
    at = datetime(2027, 3, 20, 8, tzinfo=NY)
    head = series_task(
        "FREQ=DAILY;INTERVAL=3;COUNT=5", start, at, sequence=4, repeat_from=RepeatFrom.COMPLETION
    )
    layout = lay_out([head])
    assert layout.rule == "FREQ=DAILY;INTERVAL=3;COUNT=2"
    assert layout.start == at
    assert [s.day for s in expand(parsed([head]), "VTODO", start, 10)] == [20, 23]
