"""Asking to take the last change back: "undo", "oops, undo that", "take that back".

"Cancel that" and "cancel it" are read as undo too: right after a change that is
what they mean. The offline assistant reads them as deleting the task they point
at when nothing was just changed (`is_cancel`). "Cancel the dentist appointment"
names a task, so it is not read here: it stays a delete.
"""

import re

from assistant.parsing.reading import Reading

_I = re.IGNORECASE
_OOPS = r"(?:(?:oops|oopsie|whoops|sorry|oh\s+no|ugh|wait|actually|hmm+|no|ah)\b[\s,!.]*)*"
_PLEASE = r"(?:please\s+|pls\s+|can\s+you\s+|could\s+you\s+)?"
_LAST = (
    r"(?:(?:the|my|your)\s+)?(?:last|previous|latest)\s+"
    r"(?:change|thing|action|step|edit|one)(?:\s+(?:you|i)\s+(?:made|did))?"
)
_UNDO = re.compile(
    rf"^{_OOPS}{_PLEASE}(?:"
    rf"(?:undo|revert|reverse|roll\s*back)(?:\s+(?:that|this|it|{_LAST}))?"
    rf"|take\s+(?:that|it|this)\s+back|put\s+(?:it|that)\s+back(?:\s+(?:the\s+way\s+it\s+was|as\s+it\s+was))?"
    rf"|cancel\s+(?:that|it|this|{_LAST})"
    rf")(?:\s+(?:please|pls|thanks))?[\s.!?]*$",
    _I,
)
_CANCEL = re.compile(rf"^{_OOPS}{_PLEASE}cancel\s+(?P<target>that|it|this)\b", _I)


def read_undo(text: str) -> Reading | None:
    """An `undo` reading when the whole message asks to take the last change back."""
    if _UNDO.match(text.strip()):
        return Reading(intent="undo")
    return None


def cancel_target(text: str) -> str | None:
    """The pronoun of "cancel that/it/this": the task it deletes when no change
    was just made; None for any other way of asking to undo."""
    found = _CANCEL.match(text.strip())
    return None if found is None else found.group("target").lower()


__all__ = ["cancel_target", "read_undo"]
