"""Requests that start with a reminder: "remind me about the dentist tomorrow at 8am"
(set_reminder on an existing task) and "remind me to call the bank at 2pm" (a new task)."""

import re

from assistant.parsing.adding import build_add
from assistant.parsing.clock import Clock
from assistant.parsing.datetimes import extract_when
from assistant.parsing.details import read_details
from assistant.parsing.lexicon import DEFAULT_REMIND_TIME
from assistant.parsing.reading import Reading
from assistant.parsing.reminders import OFFSET_PHRASE, RELATIVE_PHRASE, read_offset, reminder_for
from assistant.parsing.text import clean_reference

_I = re.IGNORECASE
_REMIND_ME = re.compile(
    r"^(?:remind|ping|alert|notify|nudge)\s+(?:me|us)\b[\s,:]*(?P<rest>.*)$", _I
)
_SET_REMINDER = re.compile(
    r"^(?:set|add|create|schedule|put|make|give\s+me)\s+(?:up\s+)?(?:a\s+|an\s+|me\s+a\s+)?"
    r"(?:new\s+)?(?:reminder|alert|alarm|notification)\b[\s,:]*(?P<rest>.*)$",
    _I,
)
_CHANGE_REMINDER = re.compile(
    r"^(?:change|move|update|set|push|reschedule)\s+(?:the\s+|my\s+)?reminder\s+"
    r"(?:for|on|of|about)\s+(?P<ref>.+?)\s+to\s+(?P<val>.+)$",
    _I,
)
_TO = re.compile(r"\bto\s+", _I)
_ABOUT = re.compile(r"\b(?:about|of|regarding|re:|for|on)\s+", _I)
_NO_TASK = re.compile(r"^[\s,]*(?:(?:to|about|of|regarding|for|on)\b[\s,]*)?$", _I)
_LEADING_ABOUT = re.compile(r"^(?:(?:about|of|regarding|for|on)\s+)+", _I)


def _split_after_time(
    pattern: re.Pattern[str], rest: str, clock: Clock
) -> tuple[int, str, str] | None:
    """The first `pattern` keyword with only a time phrase (or nothing) before it."""
    for m in pattern.finditer(rest):
        before = rest[: m.start()].strip(" ,")
        if not before or not read_details(before, clock).rest.strip(" ,"):
            return m.start(), before, rest[m.end() :]
    return None


def _about(before: str, after: str, clock: Clock) -> Reading:
    text = f"{after} {before}".strip()
    relative = RELATIVE_PHRASE.search(text)
    if relative is not None and (offset := read_offset(relative.group(0), clock)) is not None:
        task = clean_reference(_LEADING_ABOUT.sub("", text[: relative.start()]))
        return Reading(intent="set_reminder", task=task, remind_before=offset)
    offset_said = OFFSET_PHRASE.search(text)
    when, ref_text = extract_when(OFFSET_PHRASE.sub("", text), clock)
    remind_at = when.resolve(clock, DEFAULT_REMIND_TIME) if when and not offset_said else None
    task = clean_reference(_LEADING_ABOUT.sub("", ref_text))
    return Reading(intent="set_reminder", task=task, remind_at=remind_at)


def _remind(rest: str, clock: Clock) -> Reading:
    to = _split_after_time(_TO, rest, clock)
    about = _split_after_time(_ABOUT, rest, clock)
    if to is not None and (about is None or to[0] <= about[0]):
        added = build_add(f"{to[2]} {to[1]}", clock, remind_at_due=True)
        if added is not None:
            return added
    elif about is not None:
        return _about(about[1], about[2], clock)
    if (offset := read_offset(rest, clock)) is not None:  # "remind me an hour before"
        return Reading(intent="set_reminder", remind_before=offset)
    when, leftover = extract_when(rest, clock)
    if not _NO_TASK.match(leftover):  # "remind me call mom at 5"
        added = build_add(rest, clock, remind_at_due=True)
        if added is not None:
            return added
    remind_at = when.resolve(clock, DEFAULT_REMIND_TIME) if when else None
    return Reading(intent="set_reminder", remind_at=remind_at)


def read_reminder(text: str, clock: Clock) -> Reading | None:
    body = text.rstrip(" .!?")
    if (m := _CHANGE_REMINDER.match(body)) is not None:
        task = clean_reference(m.group("ref"))
        return Reading(
            intent="set_reminder",
            task=task,
            remind_at=reminder_for(m["val"], None, clock),
            remind_before=read_offset(m["val"], clock),
        )
    m = _REMIND_ME.match(body) or _SET_REMINDER.match(body)
    if m is None:
        return None
    return _remind(m.group("rest"), clock)
