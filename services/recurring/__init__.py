"""The recurring-task service: next occurrences and the reminder schedule.

It reacts to `task-events`: a completed recurring task yields one
`task.occurrence.generated` (task-api inserts it); reminders are kept in its
own schedule table and fired once as `reminder.triggered`.
"""

__all__: list[str] = []
