"""Undo: the conversation's last change, reverted through the same MCP tools.

Every tool call that changes a task is remembered in the conversation's state
(`ConversationState.changes`, the last `DEPTH` turns that changed something),
from the tool's own result and, for a change to an existing task, the task as
`get_task` read it just before. "Undo" pops the newest turn's change and runs
the inverse calls:

    created   -> delete_task      (no question: the user asked for it)
    deleted   -> restore_task
    changed   -> update_task with the values before (and `clear` for the empty ones)
    completed -> reopen_task      (the task service withdraws a next occurrence)
    reopened  -> complete_task

The model reaches this as the assistant's own tool `undo_last_change` (the MCP
server has no conversation); the offline assistant calls the same tool for its
`undo` intent. Undoing is not itself remembered: a second undo reverts the
change before.
"""

from collections.abc import Mapping, Sequence
from typing import Any, get_args

from assistant.state import Change, ChangeStep, ConversationState
from assistant.tools import ToolInfo, ToolOutcome
from mcp_server.tools.args import Clearable
from services.tasks.domain.editing import EDITABLE

TOOL = "undo_last_change"
DEPTH = 10
NOTHING = "There is nothing to undo in this conversation."

INFO = ToolInfo(
    name=TOOL,
    description=(
        "Revert the last change made in this conversation (a task added, deleted, "
        "changed, completed or reopened), e.g. when the user says undo, cancel that, "
        "oops or take that back. Call it again to revert the change before. Takes no "
        "arguments; do not revert changes by hand."
    ),
    input_schema={"type": "object", "properties": {}, "additionalProperties": False},
    read_only=False,
    destructive=False,
)

# Tools that change an existing task: the task is read first, to know what to put back.
READ_FIRST = frozenset(
    {"update_task", "set_reminder", "skip_occurrence", "complete_task", "reopen_task"}
)
# What update_task can set, and what it can clear: undo puts back exactly these.
FIELDS = EDITABLE
CLEARABLE = frozenset(get_args(Clearable))
_FIELD_WORDS = {
    "due_at": "due time",
    "remind_at": "reminder",
    "recurrence_rule": "repeat",
    "repeat_from": "repeat",
    "timezone": "time zone",
}


def _step(
    name: str, before: Mapping[str, Any] | None, result: Mapping[str, Any]
) -> ChangeStep | None:
    task_id, title = result.get("id"), result.get("title")
    if not isinstance(task_id, str) or not isinstance(title, str):
        return None
    if name == "add_task":
        return ChangeStep(kind="created", task_id=task_id, title=title)
    if name == "delete_task":
        return ChangeStep(kind="deleted", task_id=task_id, title=title)
    if before is None:
        return None
    if name in ("complete_task", "reopen_task"):
        if before.get("status") == result.get("status"):
            return None  # it already was: nothing changed
        kind = "completed" if name == "complete_task" else "reopened"
        return ChangeStep(kind=kind, task_id=task_id, title=title)
    changed = {f: before.get(f) for f in FIELDS if before.get(f) != result.get(f)}
    if not changed:
        return None
    return ChangeStep(kind="changed", task_id=task_id, title=title, before=changed)


def remember(
    state: ConversationState,
    turn: str,
    name: str,
    before: Mapping[str, Any] | None,
    outcome: ToolOutcome,
) -> None:
    """Record what a successful call changed, as part of this turn's change."""
    if not outcome.ok or outcome.structured is None:
        return
    step = _step(name, before, outcome.structured)
    if step is None:
        return
    if state.changes and state.changes[-1].turn == turn:
        state.changes[-1].steps.append(step)
    else:
        state.changes.append(Change(turn=turn, steps=[step]))
        del state.changes[:-DEPTH]
    state.changed_last = True


def inverse(step: ChangeStep) -> tuple[str, dict[str, Any]]:
    """The tool call that reverts `step`."""
    target = {"task_id": step.task_id}
    if step.kind == "created":
        return "delete_task", target
    if step.kind == "deleted":
        return "restore_task", target
    if step.kind == "completed":
        return "reopen_task", target
    if step.kind == "reopened":
        return "complete_task", target
    values = {k: v for k, v in step.before.items() if v is not None}
    cleared = sorted(k for k, v in step.before.items() if v is None and k in CLEARABLE)
    return "update_task", {**target, **values, **({"clear": cleared} if cleared else {})}


def _said(step: ChangeStep, outcome: ToolOutcome) -> str:
    title = f"“{step.title}”"
    if not outcome.ok:
        return f"I could not undo the change to {title}: {outcome.text}"
    if step.kind == "created":
        return f"Removed {title}, which had just been added."
    if step.kind == "deleted":
        return f"Restored {title}."
    if step.kind == "completed":
        recurring = (outcome.structured or {}).get("is_recurring")
        follow = " Its next occurrence is withdrawn." if recurring else ""
        return f"Reopened {title}.{follow}"
    if step.kind == "reopened":
        return f"Marked {title} as done again."
    words = []
    for field in step.before:
        word = _FIELD_WORDS.get(field, field)
        if word not in words:
            words.append(word)
    return f"Put back the {_joined(words)} of {title}."


def _joined(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def summary(done: Sequence[tuple[ChangeStep, ToolOutcome]]) -> ToolOutcome:
    """The undo tool's result: a sentence per step, and the tasks as they are now."""
    text = " ".join(_said(step, outcome) for step, outcome in done)
    undone = [
        {
            "change": step.kind,
            "task_id": step.task_id,
            "title": step.title,
            "ok": outcome.ok,
            **({} if outcome.ok else {"error": outcome.text}),
        }
        for step, outcome in done
    ]
    tasks = [o.structured for _, o in done if o.ok and o.structured and "version" in o.structured]
    removed = [s.task_id for s, o in done if o.ok and s.kind == "created"]
    structured = {"undone": undone, "tasks": tasks, "removed": removed}
    return ToolOutcome(ok=all(o.ok for _, o in done), text=text, structured=structured)


__all__ = ["DEPTH", "INFO", "NOTHING", "READ_FIRST", "TOOL", "inverse", "remember", "summary"]
