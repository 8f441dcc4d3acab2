"""The task domain in plain Python: no framework, no database."""

from services.tasks.domain.model import Priority, RepeatFrom, Status, Task
from services.tasks.domain.recurrence import (
    NextOccurrence,
    Recurrence,
    Series,
    next_occurrence,
    parse_rule,
    reminder_lead,
)

__all__ = [
    "NextOccurrence",
    "Priority",
    "Recurrence",
    "RepeatFrom",
    "Series",
    "Status",
    "Task",
    "next_occurrence",
    "parse_rule",
    "reminder_lead",
]
