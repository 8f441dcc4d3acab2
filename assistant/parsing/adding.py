"""New tasks: "buy milk tomorrow at 5pm #errands p1", "remind me to call the bank at 2pm"."""

import re

from assistant.parsing.attributes import extract_tags
from assistant.parsing.clock import Clock
from assistant.parsing.details import read_details
from assistant.parsing.reading import Reading
from assistant.parsing.reminders import reminder_for
from assistant.parsing.text import squash, tidy_title

_I = re.IGNORECASE
_ADVERB = r"(?:really|definitely|probably|seriously|totally|also|still|just|finally|actually)"
_ADD_PREFIX = re.compile(
    r"^(?:(?:add|create|make|put|set\s+up|new|open|start)\s+(?:a\s+|an\s+)?(?:new\s+)?"
    r"(?:task|todo|to-do|item|entry)\b\s*(?:(?:to|for|called|named|titled|that\s+says)\b\s*)?"
    r"[:\-]?\s*"
    r"|(?:new\s+)?(?:task|todo|to-do)\s*[:\-]\s*"
    r"|add\s+(?!(?:tags?|labels?)\b)"
    r"|(?:i\s+)?(?:{adverb}\s+)?(?:need|have|got|ought|want)\s+to\s+(?:{adverb}\s+)?"
    r"|(?:i\s+)?(?:{adverb}\s+)?(?:must|should|gotta)\s+(?:{adverb}\s+)?"
    r"|i(?:\s+have|'ve|\s+have\s+got|'ve\s+got)\s+(?=(?:a|an|my|the)\s)"
    r"|(?:don't|do\s+not)\s+(?:let\s+me\s+)?forget\s+(?:to\s+)?|remember\s+to\s+"
    r"|note\s+to\s+self\s*[:\-]?\s*)".replace("{adverb}", _ADVERB),
    _I,
)
_LIST_SUFFIX = re.compile(
    r"\s+(?:to|on|in|onto)\s+(?:my|the)\s+(?:to-?\s*do\s+|task\s+)?(?:list|tasks|todos)\b", _I
)
_REMINDER_CLAUSE = re.compile(
    r"(?:\s*[,;.]\s*|\s+)(?:and\s+)?(?:(?:please\s+)?(?:remind|alert|notify|ping)\s+(?:me|us)"
    r"|(?:with|and|set|plus)\s+(?:a\s+)?reminder(?:\s+(?:for|at))?)\b(?P<body>.*)$"
    r"|\s*[,;.]\s*reminder\b\s*:?(?P<body2>.*)$",
    _I,
)


# A "title" made only of these words is a time phrase cut short ("the day before",
# "15 minutes before", "an hour later"), not something to do.
_NOT_A_TITLE = frozenset(
    {
        "the", "a", "an", "one", "day", "days", "week", "weeks", "hour", "hours", "minute",
        "minutes", "min", "mins", "before", "after", "later", "earlier", "ahead", "prior",
        "beforehand", "then", "it", "that", "this", "same", "time", "at", "on", "by", "in",
        "and", "or", "of", "to", "half", "couple", "few", "some", "morning", "evening",
        "night", "afternoon", "next", "previous", "again",
    }
)  # fmt: skip


def _is_time_leftover(title: str) -> bool:
    words = re.findall(r"[a-z]+|\d+", title.lower())
    return bool(words) and all(w in _NOT_A_TITLE or w.isdigit() for w in words)


_TAG_IN_WORDS = re.compile(
    r"[\s,;]+(?:and\s+)?(?:tag|label|file)\s+(?:it|this|that)\s+(?:as\s+|with\s+|under\s+)?"
    r"(?P<tags>[\w-]+(?:(?:\s*,\s*|\s+and\s+|\s+)[\w-]+)*)$",
    _I,
)


def _tags_in_words(text: str) -> tuple[tuple[str, ...], str]:
    """'call the plumber, tag it home' -> (('home',), 'call the plumber')."""
    m = _TAG_IN_WORDS.search(text)
    if m is None:
        return (), text
    words = re.split(r"\s*,\s*|\s+and\s+|\s+", m.group("tags").lower())
    tags = tuple(dict.fromkeys(w for w in words if w))
    return tags, text[: m.start()]


def _strip_add_words(text: str) -> str:
    text = _ADD_PREFIX.sub("", text, count=1)
    return _LIST_SUFFIX.sub("", text)


def _split_reminder(text: str) -> tuple[str, str | None]:
    match = _REMINDER_CLAUSE.search(text)
    if match is None or match.start() == 0:
        return text, None
    body = match.group("body") if match.group("body") is not None else match.group("body2")
    return squash(text[: match.start()]), body or ""


def build_add(text: str, clock: Clock, *, remind_at_due: bool = False) -> Reading | None:
    """An add_task reading, or None when no title is left.

    `remind_at_due` is for "remind me to X at T": the reminder fires when the task is due.
    """
    tags, text = extract_tags(_strip_add_words(text.strip()))
    said_tags, text = _tags_in_words(text)
    tags += tuple(t for t in said_tags if t not in tags)
    text, reminder = _split_reminder(text)
    details = read_details(text, clock)
    title = tidy_title(details.rest)
    if title is None or _is_time_leftover(title):
        return None
    remind_at = details.remind_at if remind_at_due else None
    if reminder is not None:
        remind_at = reminder_for(reminder, details.due_at, clock) or remind_at
    return Reading(
        intent="add_task",
        title=title,
        due_at=details.due_at,
        remind_at=remind_at,
        priority=details.priority,
        tags=tags + details.tags,
        recurrence_rule=details.recurrence_rule,
    )
