"""The recurring series' rules on the domain Task: the next occurrence after
a completion, skipping, the reminder's lead and the version of a change."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.errors import Conflict, InvalidInput
from services.recurring.occurrences import plan_next
from services.shared.timeutil import localize
from services.tasks.domain.model import RepeatFrom, Task
from services.tasks.domain.recurrence import NextOccurrence

PARIS = ZoneInfo("Europe/Paris")
CREATED = datetime(2027, 1, 1, tzinfo=UTC)


def at(wall: str) -> datetime:
    """A wall-clock time in Paris as an instant."""
    return localize(datetime.fromisoformat(wall), PARIS)


def recurring(rule: str, due: str, **fields: Any) -> Task:
    """A task of a series that starts at `due` (Paris), as created."""
    task_id = uuid.uuid4()
    first = at(due)
    task = Task(
        id=task_id,
        user_id=uuid.uuid4(),
        title="Water the plants",
        timezone="Europe/Paris",
        series_id=task_id,
        created_at=CREATED,
        updated_at=CREATED,
        recurrence_rule=rule,
        due_at=first,
        occurrence_at=first,
        series_start_at=first,
    )
    for name, value in fields.items():
        setattr(task, name, value)
    return task


def following(task: Task, completed: str) -> NextOccurrence | None:
    """Complete `task` at `completed` (Paris) and plan the next occurrence."""
    task.complete(at(completed))
    return task.next_occurrence(at(completed))


def test_a_late_completion_comes_back_once_at_the_next_time_ahead() -> None:
    task = recurring("FREQ=DAILY", "2027-01-04T09:00")
    planned = following(task, "2027-01-07T15:00")
    # Not Jan 5, 6 and 7 one after another: the first occurrence still ahead.
    assert planned is not None
    assert planned.occurrence_at == at("2027-01-08T09:00")
    assert planned.sequence == 2


def test_a_completion_ahead_of_time_gives_the_next_scheduled_occurrence() -> None:
    task = recurring("FREQ=WEEKLY;BYDAY=MO", "2027-01-04T09:00")
    planned = following(task, "2027-01-02T10:00")
    assert planned is not None
    assert planned.occurrence_at == at("2027-01-11T09:00")


def test_repeat_from_completion_counts_from_the_day_it_was_done() -> None:
    by_schedule = recurring("FREQ=DAILY;INTERVAL=3", "2027-01-04T09:00")
    from_completion = recurring(
        "FREQ=DAILY;INTERVAL=3", "2027-01-04T09:00", repeat_from=RepeatFrom.COMPLETION
    )
    scheduled = following(by_schedule, "2027-01-05T18:00")
    restarted = following(from_completion, "2027-01-05T18:00")
    assert scheduled is not None
    assert scheduled.occurrence_at == at("2027-01-07T09:00")
    # Three days after the day it was done, at the task's time of day.
    assert restarted is not None
    assert restarted.occurrence_at == at("2027-01-08T09:00")


def test_repeat_from_completion_count_counts_completions() -> None:
    task = recurring(
        "FREQ=DAILY;INTERVAL=3;COUNT=2",
        "2027-01-04T09:00",
        repeat_from=RepeatFrom.COMPLETION,
        sequence=2,
    )
    assert following(task, "2027-02-01T10:00") is None


def test_count_ends_the_series_at_its_last_occurrence() -> None:
    second = recurring("FREQ=DAILY;COUNT=3", "2027-01-04T09:00")
    second.occurrence_at = second.due_at = at("2027-01-05T09:00")
    second.sequence = 2
    planned = following(second, "2027-01-05T09:30")
    assert planned is not None
    assert (planned.occurrence_at, planned.sequence) == (at("2027-01-06T09:00"), 3)
    third = recurring("FREQ=DAILY;COUNT=3", "2027-01-04T09:00")
    third.occurrence_at = third.due_at = at("2027-01-06T09:00")
    third.sequence = 3
    assert following(third, "2027-01-06T09:30") is None


def test_until_ends_the_series_on_its_day() -> None:
    rule = "FREQ=WEEKLY;UNTIL=20270118"
    task = recurring(rule, "2027-01-04T09:00")
    task.occurrence_at = task.due_at = at("2027-01-11T09:00")
    planned = following(task, "2027-01-11T10:00")
    assert planned is not None
    assert planned.occurrence_at == at("2027-01-18T09:00")
    last = recurring(rule, "2027-01-04T09:00")
    last.occurrence_at = last.due_at = at("2027-01-18T09:00")
    assert following(last, "2027-01-18T10:00") is None
    # Done late, past UNTIL: the series is over, nothing comes back.
    assert following(recurring(rule, "2027-01-04T09:00"), "2027-02-01T10:00") is None


def test_an_exdate_is_never_the_next_occurrence() -> None:
    task = recurring("FREQ=DAILY", "2027-01-04T09:00", exdates=[at("2027-01-05T09:00")])
    planned = following(task, "2027-01-04T09:30")
    assert planned is not None
    assert planned.occurrence_at == at("2027-01-06T09:00")


def test_skipping_makes_the_occurrence_an_exdate_and_moves_the_task_on() -> None:
    task = recurring("FREQ=DAILY", "2027-01-04T09:00", remind_at=at("2027-01-04T08:30"), version=4)
    now = datetime(2027, 1, 3, 12, tzinfo=UTC)
    changed = task.skip_occurrence(now)
    assert changed == ["due_at", "remind_at"]
    assert task.exdates == [at("2027-01-04T09:00")]
    assert task.due_at == task.occurrence_at == at("2027-01-05T09:00")
    assert task.remind_at == at("2027-01-05T08:30")
    assert (task.sequence, task.version, task.updated_at) == (2, 5, now)
    # The skipped date stays out when the series goes on.
    planned = following(task, "2027-01-05T09:30")
    assert planned is not None
    assert planned.occurrence_at == at("2027-01-06T09:00")


def test_skipping_the_last_occurrence_or_a_one_off_task_is_refused() -> None:
    last = recurring("FREQ=DAILY;COUNT=1", "2027-01-04T09:00")
    with pytest.raises(Conflict):
        last.skip_occurrence(CREATED)
    one_off = recurring("FREQ=DAILY", "2027-01-04T09:00", recurrence_rule=None)
    with pytest.raises(InvalidInput):
        one_off.skip_occurrence(CREATED)
    assert last.version == one_off.version == 1


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        # Europe/Paris goes to summer time on 28 March 2027 and back on 31 October.
        ("2027-03-10T09:00", "2027-04-10T09:00:00+02:00"),
        ("2027-10-10T09:00", "2027-11-10T09:00:00+01:00"),
    ],
)
def test_a_monthly_nine_oclock_task_stays_at_nine_across_dst(due: str, expected: str) -> None:
    task = recurring("FREQ=MONTHLY", due)
    planned = following(task, due)
    assert planned is not None
    assert planned.occurrence_at.astimezone(PARIS).isoformat() == expected


def test_a_monthly_series_keeps_nine_oclock_through_a_whole_year() -> None:
    task = recurring("FREQ=MONTHLY", "2027-01-15T09:00")
    seen = []
    for _ in range(12):
        planned = task.next_occurrence(task.due_at or CREATED)
        assert planned is not None
        task = task.next_in_series(planned, CREATED)
        seen.append(task.due_at.astimezone(PARIS) if task.due_at else None)
    assert all(d is not None and (d.hour, d.minute) == (9, 0) for d in seen)
    assert {d.utcoffset() for d in seen if d} == {timedelta(hours=1), timedelta(hours=2)}


def test_the_next_occurrence_keeps_the_reminders_lead_time() -> None:
    task = recurring("FREQ=DAILY", "2027-01-04T09:00", remind_at=at("2027-01-04T08:30"))
    planned = following(task, "2027-01-04T09:10")
    assert planned is not None
    assert planned.remind_lead == timedelta(minutes=30)
    made = task.next_in_series(planned, at("2027-01-04T09:10"))
    assert (made.due_at, made.remind_at) == (at("2027-01-05T09:00"), at("2027-01-05T08:30"))
    assert (made.series_id, made.sequence, made.version) == (task.series_id, 2, 1)
    # Done so late the new reminder would already be past: no reminder.
    late = task.next_in_series(planned, at("2027-01-05T08:45"))
    assert late.remind_at is None


def test_the_recurring_service_plans_from_the_event_with_the_same_rules() -> None:
    event_task = {
        "id": "t1",
        "series_id": "s1",
        "recurrence_rule": "FREQ=DAILY",
        "repeat_from": "due",
        "timezone": "Europe/Paris",
        "due_at": "2027-01-04T09:00:00+01:00",
        "remind_at": "2027-01-04T08:45:00+01:00",
        "completed_at": "2027-01-07T15:00:00+01:00",
    }
    series = {"start_at": "2027-01-04T09:00:00+01:00", "sequence": 1, "exdates": []}
    assert plan_next(event_task, series) == {
        "series_id": "s1",
        "previous_task_id": "t1",
        "occurrence_at": "2027-01-08T09:00:00+01:00",
        "sequence": 2,
        "remind_offset_seconds": 900.0,
    }
