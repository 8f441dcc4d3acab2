"""The one rule of "overdue": active and due before now."""

from datetime import UTC, datetime, timedelta

from services.tasks.domain.overdue import is_overdue

NOW = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)


def test_due_earlier_today_is_overdue() -> None:
    assert is_overdue(active=True, due_at=NOW - timedelta(hours=1), now=NOW)


def test_due_later_or_now_or_never_is_not() -> None:
    assert not is_overdue(active=True, due_at=NOW + timedelta(days=1), now=NOW)
    assert not is_overdue(active=True, due_at=NOW, now=NOW)
    assert not is_overdue(active=True, due_at=None, now=NOW)


def test_a_completed_task_is_not_overdue() -> None:
    assert not is_overdue(active=False, due_at=NOW - timedelta(days=2), now=NOW)
