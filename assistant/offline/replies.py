"""The offline assistant's sentences, built from the tools' structured results."""

from collections.abc import Mapping, Sequence
from typing import Any

HELP = (
    "I can add, find, complete, reopen, change, skip and delete your tasks, set "
    "reminders, and undo the last change. Try “remind me to call mom tomorrow at 5pm”, "
    "“what's due this week?”, “complete the dentist task” or “delete the second one”."
)
CANCELLED = "OK, I left everything as it was."
SHOWN = 10

_DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_UNITS = {
    "DAILY": "day",
    "WEEKLY": "week",
    "MONTHLY": "month",
    "YEARLY": "year",
    "HOURLY": "hour",
    "MINUTELY": "minute",
}


def quoted(title: object) -> str:
    return f"“{title}”"


def repeats(rule: str) -> str:
    """A plain reading of the common RRULE shapes; the rule itself otherwise."""
    parts = dict(p.split("=", 1) for p in rule.split(";") if "=" in p)
    unit = _UNITS.get(parts.get("FREQ", ""))
    if unit is None:
        return f"repeats {rule}"
    interval = int(parts.get("INTERVAL", "1") or 1)
    every = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    days = [d[-2:] for d in parts.get("BYDAY", "").split(",") if d]
    if days == ["MO", "TU", "WE", "TH", "FR"]:
        every = "every weekday"
    elif days:
        names = [_DAYS.get(d, d) for d in days]
        every += " on " + (
            names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        )
    if "COUNT" in parts:
        every += f", {parts['COUNT']} times"
    return f"repeats {every}"


def facts(task: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    if task.get("due_phrase"):
        found.append(f"due {task['due_phrase']}")
    if task.get("remind_phrase"):
        found.append(f"reminder {task['remind_phrase']}")
    if task.get("priority") not in (None, "none"):
        found.append(f"{task['priority']} priority")
    found.extend(f"#{tag}" for tag in task.get("tags") or ())
    if task.get("recurrence_rule"):
        found.append(repeats(str(task["recurrence_rule"])))
    return found


def described(task: Mapping[str, Any]) -> str:
    details = facts(task)
    return quoted(task.get("title")) + (", " + ", ".join(details) if details else "")


def added(task: Mapping[str, Any]) -> str:
    return f"Added {described(task)}."


def listing(items: Sequence[Mapping[str, Any]], total: int, status: str) -> str:
    if not items:
        kind = {"completed": "completed ", "active": ""}.get(status, "")
        return f"You have no {kind}tasks that match."
    noun = "task" if total == 1 else "tasks"
    lines = [f"{total} {noun}:"]
    for number, task in enumerate(items[:SHOWN], start=1):
        details = facts(task)
        done = " (done)" if task.get("status") == "completed" and status != "completed" else ""
        lines.append(
            f"{number}. {task.get('title')}{done}" + (f" — {', '.join(details)}" if details else "")
        )
    if total > min(len(items), SHOWN):
        lines.append(f"…and {total - min(len(items), SHOWN)} more.")
    return "\n".join(lines)


def which(reference: str, titles: Sequence[str]) -> str:
    lines = [f"More than one task matches {quoted(reference)}. Which one?"]
    lines += [f"{n}. {title}" for n, title in enumerate(titles[:SHOWN], start=1)]
    lines.append("Say “the second one”, for example.")
    return "\n".join(lines)


def done(tool: str, task: Mapping[str, Any]) -> str:
    title = quoted(task.get("title"))
    if tool == "complete_task":
        follow = " Its next occurrence is on the way." if task.get("is_recurring") else ""
        return f"Marked {title} as done.{follow}"
    if tool == "reopen_task":
        return f"Reopened {title}."
    if tool == "skip_occurrence":
        due = f"; it is now due {task['due_phrase']}" if task.get("due_phrase") else ""
        return f"Skipped this occurrence of {title}{due}."
    if tool == "set_reminder":
        return f"I'll remind you about {title} {task.get('remind_phrase') or 'then'}."
    if tool == "update_task":
        return f"Updated {described(task)}."
    if tool == "delete_task":
        return f"Deleted {title}."
    return f"Done: {title}."


def failed(text: str) -> str:
    return f"That did not work: {text}"


__all__ = [
    "CANCELLED",
    "HELP",
    "added",
    "described",
    "done",
    "facts",
    "failed",
    "listing",
    "quoted",
    "repeats",
    "which",
]
