"""Answers to the assistant's own questions, read as the part that was missing.

"When should I remind you?" takes "tomorrow at 9am", "an hour before" or "the day
before at 10am"; "When is it due?" and "What should I change?" take "friday at
3pm", "2 days later" or "high priority". An answer is read in full or not at all,
so that it never becomes a task of its own.
"""

import re
from datetime import datetime

from assistant.parsing.clock import Clock
from assistant.parsing.datetimes import extract_when
from assistant.parsing.lexicon import DEFAULT_REMIND_TIME
from assistant.parsing.reading import Reading
from assistant.parsing.reminders import read_offset
from assistant.parsing.text import normalize
from assistant.parsing.updates import read_change

_I = re.IGNORECASE
_LEAD = re.compile(
    r"^(?:(?:please|ok(?:ay)?|maybe|perhaps|how\s+about|what\s+about|make\s+it|let'?s\s+(?:say|do)"
    r"|say|remind\s+me|um+|uh+|hmm+|just|sure|yes|yeah|yep|i\s+guess|i\s+think|probably"
    r"|change\s+it|move\s+it|set\s+it|it'?s|it\s+is|it\s+should\s+be|due"
    r"|(?:i'?m|i\s+am)\s+(?:available|free)|i\s+can\s+do|(?:i'?d|i\s+would)\s+(?:say|prefer))\b[\s,:]*)+",
    _I,
)
_TAIL = re.compile(
    r"[\s,]*\b(?:please|thanks|thank\s+you|would\s+(?:be\s+)?(?:good|great|fine|work|best)"
    r"|works?(?:\s+for\s+me)?|is\s+fine|is\s+good|then)\b.*$",
    _I,
)
_FILLER = re.compile(r"\b(?:at|on|by|for|to|it|then)\b", _I)
_TO = re.compile(r"^(?:to|for|until|till|on)\s+", _I)


def _core(text: str) -> str:
    body = normalize(text).strip(" .!?,")
    body = _TAIL.sub("", _LEAD.sub("", body))
    return body.strip(" .!?,")


def reminder_answer(text: str, clock: Clock) -> Reading | None:
    """The reminder an answer to "When should I remind you?" asks for, or None."""
    body = _core(text)
    if not body:
        return None
    if (offset := read_offset(body, clock)) is not None:
        return Reading(intent="set_reminder", remind_before=offset)
    when, rest = extract_when(body, clock)
    if when is None or _FILLER.sub(" ", rest).strip(" ,.!?"):
        return None
    remind_at: datetime | None = when.resolve(clock, DEFAULT_REMIND_TIME)
    return Reading(intent="set_reminder", remind_at=remind_at)


def change_answer(text: str, clock: Clock) -> Reading | None:
    """The change an answer to "When is it due?" or "What should I change?" asks for."""
    body = _TO.sub("", _core(text))
    return read_change(body, clock) if body else None


__all__ = ["change_answer", "reminder_answer"]
