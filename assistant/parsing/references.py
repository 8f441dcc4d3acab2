"""Requests about one existing task: complete, reopen, delete, skip an occurrence."""

import re

from assistant.parsing.clock import Clock
from assistant.parsing.datetimes import extract_when
from assistant.parsing.reading import Intent, Reading
from assistant.parsing.text import WordFinder, clean_reference

_I = re.IGNORECASE
_DONE = (
    r"(?:done|complete|completed|finished|checked(?:\s+off)?|ticked(?:\s+off)?|paid|sent"
    r"|submitted|handled|sorted(?:\s+out)?|taken\s+care\s+of)"
)
_NOT_DONE = (
    r"(?:not\s+(?:yet\s+)?(?:done|complete|completed|finished)|undone|incomplete|uncompleted"
    r"|unfinished|active|open|pending|to\s*-?\s*do|not\s+done\s+yet)"
)
_LIST = r"(?:my\s+|the\s+)?(?:to-?\s*do\s+|task\s+)?(?:list|tasks|todos)"

# (pattern, intent, hint). A "cancel"/"complete" request that names a date reads as a
# new task instead ("complete the tax form by friday").
_RULE_TEXTS: tuple[tuple[str, Intent, str], ...] = (
    (
        r"^(?:undo|revert)\s+(?:the\s+)?(?:completion\s+of|completing)\s+(?P<ref>.+)$",
        "reopen_task",
        "",
    ),
    (
        r"^(?:re-?open|un-?complete|unfinish|uncheck|untick|unmark|reactivate|restore"
        r"|resurrect|bring\s+back)\s+(?P<ref>.+)$",
        "reopen_task",
        "",
    ),
    (
        rf"^(?:mark|set|flag|put)\s+(?P<ref>.+?)\s+(?:as\s+|to\s+|back\s+to\s+)?{_NOT_DONE}$",
        "reopen_task",
        "",
    ),
    (
        rf"^(?P<ref>.+?)\s+(?:is|are|was)(?:n't|\s+not)\s+(?:actually\s+|really\s+)?{_DONE}"
        r"(?:\s+yet)?$",
        "reopen_task",
        "",
    ),
    (rf"^(?:mark|set|flag)\s+(?P<ref>.+?)\s+(?:as\s+|to\s+)?{_DONE}$", "complete_task", ""),
    (r"^(?:check|tick|cross|mark)\s+off\s+(?P<ref>.+)$", "complete_task", ""),
    (rf"^(?:check|tick|cross)\s+(?P<ref>.+?)\s+off(?:\s+{_LIST})?$", "complete_task", ""),
    (r"^(?P<verb>complete|completed)\s+(?P<ref>.+)$", "complete_task", "complete"),
    (
        r"^(?:i|we)(?:'ve|\s+have|'d|\s+had)?\s+(?:just\s+|already\s+|finally\s+)?"
        r"(?:finished|completed|done|did)\s+(?:with\s+)?(?P<ref>.+)$",
        "complete_task",
        "",
    ),
    (
        r"^(?:i'm|i\s+am|we're|we\s+are)\s+(?:all\s+)?(?:done|finished)\s+with\s+(?P<ref>.+)$",
        "complete_task",
        "",
    ),
    (
        r"^(?:(?:just|already|finally)\s+)?(?:done|finished|did)\s+(?:with\s+)?(?P<ref>.+)$",
        "complete_task",
        "",
    ),
    (r"^(?:i\s+|we\s+)?(?:just\s+)?got\s+(?P<ref>.+?)\s+done$", "complete_task", ""),
    (
        r"^(?:i|we)\s+(?:didn't|did\s+not|haven't|have\s+not)\s+(?:actually\s+|really\s+)?"
        r"(?:finish|finished|complete|completed|do|done)\s+(?P<ref>.+?)(?:\s+after\s+all)?$",
        "reopen_task",
        "",
    ),
    (
        rf"^(?P<ref>.+?)\s+(?:is|are|was|has\s+been|have\s+been)\s+(?:now\s+|all\s+)?{_DONE}$",
        "complete_task",
        "",
    ),
    (rf"^(?P<ref>.+?)\s*[:\-]\s*{_DONE}$", "complete_task", ""),
    (r"^skip\s+(?P<ref>.+)$", "skip_occurrence", ""),
    (
        r"^(?:(?:we|you|i)\s+can\s+|let'?s\s+|just\s+)?(?:delete|remove|erase|trash|discard"
        r"|scrap|scratch|axe|nuke|nix|ditch|get\s+rid\s+of|throw\s+(?:away|out)"
        r"|forget\s+about|drop(?!\s+(?:off|by)\b)(?!.*\b(?:off|at|by|to|from)\b))"
        r"\s+(?P<ref>.+)$",
        "delete_task",
        "",
    ),
    (r"^(?P<verb>cancel)\s+(?P<ref>.+)$", "delete_task", "cancel"),
)
_RULES = tuple((re.compile(p, _I), intent, hint) for p, intent, hint in _RULE_TEXTS)
_LIST_SUFFIX = re.compile(
    rf"\s+(?:from|off|on)\s+{_LIST}$|\s+(?:for\s+good|permanently|please|now)$", _I
)
_SKIP_LEAD = re.compile(
    r"^(?:the\s+|my\s+)?(?:(?:this\s+week's|next\s+week's|next|upcoming|this|today's"
    r"|tomorrow's|tonight's)\s+)?(?:(?:occurrence|instance|session|one|time)\s+of\s+)?",
    _I,
)
_SKIP_TAIL = re.compile(
    r"\s+(?:(?:just\s+)?(?:this|next)\s+(?:time|week|month|once)|today|tomorrow|tonight|once"
    r"|for\s+(?:today|now|this\s+week)|this\s+(?:morning|evening|afternoon))$",
    _I,
)


_VERB_COLON = re.compile(r"^(?P<verb>[a-z]+)\s*:\s*", _I)  # "complete: buy milk"


def _reference(raw: str, intent: Intent, clock: Clock) -> str | None:
    raw = _LIST_SUFFIX.sub("", raw)
    if intent == "skip_occurrence":
        raw = _SKIP_TAIL.sub("", _SKIP_LEAD.sub("", raw))
        when, rest = extract_when(raw, clock)
        if when is not None and rest and raw.lower().startswith(rest.lower()):
            raw = rest  # "skip yoga on friday": the day says which occurrence
    return clean_reference(raw)


_ANY_RULE = WordFinder((pattern for pattern, _, _ in _RULES), word_start=False)


def read_reference(text: str, clock: Clock) -> Reading | None:
    """complete_task / reopen_task / delete_task / skip_occurrence, or None."""
    body = _VERB_COLON.sub(r"\g<verb> ", text.rstrip(" .!?"))
    if _ANY_RULE.search(body) is None:  # most requests are none of these: one scan says so
        return None
    for pattern, intent, hint in _RULES:
        match = pattern.match(body)
        if match is None:
            continue
        if hint and extract_when(match.group("ref"), clock)[0] is not None:
            return None  # "complete the report by friday", "cancel gym membership by monday"
        # A bare "it" / "that task" leaves no reference: the intent stands, the task is asked.
        return Reading(intent=intent, task=_reference(match.group("ref"), intent, clock))
    return None
