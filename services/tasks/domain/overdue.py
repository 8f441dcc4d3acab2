"""When a task is overdue: active, and its due time has passed.

The rule is written here once. `TaskRepository` turns it into SQL for
GET /api/tasks?overdue=true and the `find_tasks` tool; the due phrases
("overdue 2 days") ask it directly.
"""

from datetime import datetime


def is_overdue(*, active: bool, due_at: datetime | None, now: datetime) -> bool:
    """True while the task is active and `due_at` is before `now`."""
    return active and due_at is not None and due_at < now


__all__ = ["is_overdue"]
