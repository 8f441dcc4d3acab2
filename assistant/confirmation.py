"""Human in the loop: which tool calls wait for the user's yes, and reading the answer.

Held: `delete_task`, any other tool the server marks destructive except
`update_task` (a single update is what the user just asked for, and it is
easily undone by another), and any set of calls that would change more than
one existing task within a turn (bulk changes). Adding tasks and reading are
never held. What the model proposes is only a proposal: the decision is the
user's next message, read here, never the model's.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from assistant.tools import ToolInfo

ALWAYS_HELD = frozenset({"delete_task"})
NEVER_HELD = frozenset({"update_task"})

Answer = Literal["yes", "no"]

_YES_WORDS = frozenset({"yes", "y", "yeah", "yep", "yup", "sure", "ok", "okay", "confirm"})
_YES_PHRASES = frozenset(
    {"do it", "go ahead", "please do", "of course", "absolutely", "proceed", "confirmed"}
)
_NO_WORDS = frozenset({"no", "n", "nope", "nah", "cancel", "stop", "abort", "dont"})
_NO_PHRASES = frozenset({"do not", "never mind", "nevermind", "keep it", "leave it"})
_NEGATIONS = frozenset({"not", "dont", "no", "never"})

_VERBS = {
    "delete_task": "delete",
    "complete_task": "complete",
    "reopen_task": "reopen",
    "skip_occurrence": "skip the current occurrence of",
    "update_task": "change",
    "set_reminder": "set a reminder on",
}


def read_answer(text: str) -> Answer | None:
    """ "yes"/"no" when the message is an answer to a confirmation, else None."""
    words = re.sub(r"[^a-z ]+", "", text.lower().replace("'", "")).split()
    if not words or len(words) > 6:
        return None
    phrase = " ".join(words)
    if phrase in _NO_PHRASES or words[0] in _NO_WORDS:
        return "no"
    if (phrase in _YES_PHRASES or words[0] in _YES_WORDS) and not _NEGATIONS & set(words[1:]):
        return "yes"
    return None


def _changes_task(tool: ToolInfo | None, arguments: Mapping[str, Any]) -> bool:
    return tool is not None and not tool.read_only and "task_id" in arguments


def _bulk(arguments: Mapping[str, Any]) -> bool:
    # A tool taking a list of tasks changes more than one at once.
    return any(k.endswith("_ids") and isinstance(v, list) for k, v in arguments.items())


def held(
    calls: Iterable[tuple[str, Mapping[str, Any]]],
    tools: Mapping[str, ToolInfo],
    changed: set[str],
) -> bool:
    """Whether this step's calls wait for a yes; `changed` = tasks this turn already changed."""
    targets = set(changed)
    for name, arguments in calls:
        tool = tools.get(name)
        if name in ALWAYS_HELD or _bulk(arguments):
            return True
        if tool is not None and tool.destructive and name not in NEVER_HELD:
            return True
        if _changes_task(tool, arguments):
            targets.add(str(arguments["task_id"]))
    return len(targets) > 1


def changed_tasks(
    calls: Iterable[tuple[str, Mapping[str, Any]]], tools: Mapping[str, ToolInfo]
) -> set[str]:
    return {str(a["task_id"]) for n, a in calls if _changes_task(tools.get(n), a)}


def action(name: str, title: str | None) -> str:
    verb = _VERBS.get(name, f"run {name} on")
    return f'{verb} "{title}"' if title else f"{verb} a task"


def summary(actions: list[str]) -> str:
    if not actions:
        return "Go ahead?"
    joined = actions[0] if len(actions) == 1 else ", ".join(actions[:-1]) + " and " + actions[-1]
    return f"{joined[0].upper()}{joined[1:]}? Reply yes or no."


__all__ = ["Answer", "action", "changed_tasks", "held", "read_answer", "summary"]
