"""Valid `data` for events the tests build by hand (events.schemas)."""

import uuid
from typing import Any


def task_data(**fields: Any) -> dict[str, Any]:
    """A task as events carry it; `fields` replace the defaults."""
    task_id = str(uuid.uuid4())
    return {
        "id": task_id,
        "title": "Call the bank",
        "description": None,
        "status": "active",
        "completed_at": None,
        "priority": "none",
        "tags": [],
        "due_at": None,
        "remind_at": None,
        "timezone": "UTC",
        "recurrence_rule": None,
        "repeat_from": "due",
        "is_recurring": False,
        "series_id": task_id,
        "created_at": "2026-01-05T09:00:00+00:00",
        "updated_at": "2026-01-05T09:00:00+00:00",
        "version": 1,
        **fields,
    }


def task_updated(**extra: Any) -> dict[str, Any]:
    """`task.updated` data; `extra` adds fields beside `task` and `changed`."""
    return {"task": task_data(), "changed": ["title"], **extra}


def reminder_triggered(**fields: Any) -> dict[str, Any]:
    return {
        "task_id": str(uuid.uuid4()),
        "title": "Call the bank",
        "remind_at": "2026-01-05T09:00:00+00:00",
        "due_at": None,
        "timezone": "UTC",
        "fired_at": "2026-01-05T09:00:01+00:00",
        **fields,
    }
