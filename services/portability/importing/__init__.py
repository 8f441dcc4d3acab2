"""Import: readers per format (JSON export, CSV, iCalendar) make drafts; one
plan checks them against the task rules and the user's tasks; one unit of
work stores them, or nothing."""

__all__: list[str] = []
