"""The task domain in plain Python: no framework, no database."""

from services.tasks.domain.model import Priority, RepeatFrom, Status, Task
from services.tasks.domain.recurrence import Recurrence, parse_rule

__all__ = ["Priority", "Recurrence", "RepeatFrom", "Status", "Task", "parse_rule"]
