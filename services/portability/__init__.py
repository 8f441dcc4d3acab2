"""Your data: the calendar feed (RFC 5545), export and import.

Runs in task-api: the feed and export read through the task repository and
the other services' query functions; import creates tasks through the task
domain's rules in one unit of work, with their `task.created` events.
"""

__all__: list[str] = []
