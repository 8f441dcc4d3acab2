"""Creating and changing a task: field rules and rules between fields."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.errors import InvalidInput
from services.tasks.domain.editing import apply_changes, new_task
from services.tasks.domain.model import Priority, Status

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)


def test_new_task_defaults() -> None:
    task = new_task(
        user_id=uuid.uuid4(),
        fields={"title": " Buy milk "},
        default_timezone="Europe/Berlin",
        now=NOW,
    )
    assert task.title == "Buy milk"
    assert task.timezone == "Europe/Berlin"
    assert task.priority is Priority.NONE
    assert task.status is Status.ACTIVE
    assert task.series_id == task.id
    assert task.version == 1


def test_dates_become_instants_in_the_tasks_zone() -> None:
    task = new_task(
        user_id=uuid.uuid4(),
        fields={"title": "x", "due_at": date(2027, 7, 1), "remind_at": date(2027, 7, 1)},
        default_timezone="Europe/Berlin",
        now=NOW,
    )
    assert task.due_at == datetime(2027, 7, 1, 21, 59, tzinfo=UTC)
    assert task.remind_at == datetime(2027, 7, 1, 7, 0, tzinfo=UTC)


def test_tags_are_cleaned() -> None:
    task = new_task(
        user_id=uuid.uuid4(),
        fields={"title": "x", "tags": ["#Work", "work", " Home "]},
        default_timezone="UTC",
        now=NOW,
    )
    assert task.tags == ["work", "home"]


def test_a_failed_change_leaves_the_task_untouched() -> None:
    task = new_task(
        user_id=uuid.uuid4(),
        fields={"title": "x", "priority": "low"},
        default_timezone="UTC",
        now=NOW,
    )
    before = task.copy()
    with pytest.raises(InvalidInput):
        apply_changes(
            task, {"priority": "high", "recurrence_rule": "FREQ=DAILY"}, now=NOW
        )  # recurring without due_at
    assert task == before


def test_changing_the_timezone_keeps_instants_and_reads_new_wall_times_in_it() -> None:
    task = new_task(
        user_id=uuid.uuid4(),
        fields={"title": "x", "due_at": datetime(2027, 2, 1, 9)},
        default_timezone="Europe/Berlin",
        now=NOW,
    )
    changed = apply_changes(
        task, {"timezone": "Asia/Tokyo", "remind_at": datetime(2027, 2, 1, 16)}, now=NOW
    )
    assert changed == ["remind_at", "timezone"]
    assert task.due_at == datetime(2027, 2, 1, 8, tzinfo=UTC)
    assert task.remind_at == datetime(2027, 2, 1, 7, tzinfo=UTC)
    assert task.version == 2


def test_reminder_rules() -> None:
    due = datetime(2027, 2, 1, 9)
    with pytest.raises(InvalidInput, match="after due_at"):
        new_task(
            user_id=uuid.uuid4(),
            fields={"title": "x", "due_at": due, "remind_at": due + timedelta(minutes=1)},
            default_timezone="UTC",
            now=NOW,
        )
    with pytest.raises(InvalidInput, match="past"):
        new_task(
            user_id=uuid.uuid4(),
            fields={"title": "x", "remind_at": NOW - timedelta(hours=1)},
            default_timezone="UTC",
            now=NOW,
        )
    task = new_task(
        user_id=uuid.uuid4(),
        fields={"title": "x", "remind_at": NOW + timedelta(seconds=10)},
        default_timezone="UTC",
        now=NOW,
    )
    # A reminder that has since passed does not block other edits.
    assert apply_changes(task, {"title": "y"}, now=NOW + timedelta(days=1)) == ["title"]


def test_complete_and_reopen_are_idempotent() -> None:
    task = new_task(user_id=uuid.uuid4(), fields={"title": "x"}, default_timezone="UTC", now=NOW)
    assert task.complete(NOW) is True
    assert task.complete(NOW) is False
    assert task.version == 2
    assert task.reopen(NOW) is True
    assert task.reopen(NOW) is False
    assert task.completed_at is None
