"""Questions about the list ("what's due today?", "overdue tasks tagged #work") as filters."""

import re
from dataclasses import replace
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from assistant.parsing.attributes import extract_priority, extract_tags
from assistant.parsing.clock import Clock
from assistant.parsing.days import extract_day, match_day_at
from assistant.parsing.lexicon import NUMBER
from assistant.parsing.reading import Reading, TaskFilters
from assistant.parsing.text import clean_reference, cut, cut_span, to_number

_I = re.IGNORECASE
_TASKS = r"(?:tasks?|todos?|to-dos?|items?|reminders?|things?)"

_FIND_VERB = re.compile(
    r"^(?:show|list|display|give\s+me|get\s+me|pull\s+up|bring\s+up)\b"
    r"(?P<mine>\s+(?:me|my|all|everything|anything|what|which)\b)?",
    _I,
)
_SEARCH_VERB = re.compile(
    r"^(?:search(?:\s+(?:for|through\s+my\s+tasks\s+for))?|look\s+(?:for|up)|lookup|filter)\b",
    _I,
)
_FIND = re.compile(
    r"^find\b(?=\s+(?:(?:all|my|me|every|any|the)\s+)*(?:tasks?|todos?|to-dos?|items?|everything"
    r"|anything|something|stuff|what|which|overdue|completed|finished|done|recurring|repeating"
    r"|high|medium|low|urgent|important|open|active|pending|#|p[1-4]\b))",
    _I,
)
_QUESTION = re.compile(
    r"^(?:what|whats|which|any|anything|is\s+(?:there|anything)|are\s+(?:there|any)"
    r"|do\s+i|have\s+i|did\s+i|how\s+many|when\s+(?:is|are)\s+(?:my|the|our))\b",
    _I,
)
_TASK_CUE = re.compile(
    rf"\b(?:{_TASKS}|due|overdue|late|completed?|finish(?:ed)?|done|recurring|repeating|priority"
    r"|urgent|important|tagged|plate|agenda|list|scheduled|planned|pending|open|left|remaining"
    r"|outstanding|have|got|work\s+on|need\s+to|to\s+do|upcoming|coming\s+up)\b|#\w"
    r"|^what'?s\s+(?:on|next|up\s+next)\b|^when\b",
    _I,
)
_ADJECTIVE = (
    r"(?:all|my|any|the|only|today's|tomorrow's|this\s+week's|overdue|completed|finished|done"
    r"|open|active|pending|outstanding|recurring|repeating|upcoming|high|medium|low|urgent"
    r"|important|priority|p[1-4]|#[\w-]+)"
)
_NOUN_PHRASE = re.compile(
    rf"^(?:{_ADJECTIVE}[\s,]+)+(?:tasks|todos|to-dos|items)\b|^(?:tasks|todos|to-dos)\b", _I
)


def is_find(text: str) -> bool:
    """A request to see tasks rather than to change them."""
    if _SEARCH_VERB.match(text) or _FIND.match(text):
        return True
    verb = _FIND_VERB.match(text)
    if verb is not None and (verb.group("mine") or _TASK_CUE.search(text, verb.end())):
        return True  # "show my tasks", "list tasks due today"; not "list the car on ebay"
    if _QUESTION.match(text) and _TASK_CUE.search(text):
        return True
    return _NOUN_PHRASE.match(text) is not None


def read_find(text: str, clock: Clock) -> Reading | None:
    if not is_find(text):
        return None
    return Reading(intent="find_tasks", filters=find_filters(text, clock))


_OVERDUE = re.compile(r"\b(?:over\s*due|past\s+due|late|missed|behind)\b", _I)
_ACTIVE = re.compile(
    r"\b(?:not\s+(?:yet\s+)?(?:done|completed?|finished)|active|open|pending|incomplete"
    r"|unfinished|outstanding|remaining|left|undone|uncompleted|still\s+to\s+do)\b",
    _I,
)
_COMPLETED = re.compile(
    r"\b(?:completed?|finished|done|closed|checked\s+off|ticked\s+off|accomplished)\b"
    r"|\bdid\s+i\s+(?:finish|complete|get\s+done|do)\b",
    _I,
)
_RECURRING = re.compile(r"\b(?:recurring|repeating|repeat(?:ed|s)?|periodic|routine)\b", _I)
_ONE_OFF = re.compile(r"\b(?:one-?off|one-?time|non-?recurring|non-?repeating)\b", _I)


def _status(filters: TaskFilters, text: str) -> tuple[TaskFilters, str]:
    if (m := _OVERDUE.search(text)) is not None:
        return replace(filters, status="active", overdue=True), cut(text, m)
    if (m := _ACTIVE.search(text)) is not None:
        return replace(filters, status="active"), cut(text, m)
    if (m := _COMPLETED.search(text)) is not None:
        return replace(filters, status="completed"), cut(text, m)
    return filters, text


def _recurring(filters: TaskFilters, text: str) -> tuple[TaskFilters, str]:
    if (m := _ONE_OFF.search(text)) is not None:
        return replace(filters, is_recurring=False), cut(text, m)
    if (m := _RECURRING.search(text)) is not None:
        return replace(filters, is_recurring=True), cut(text, m)
    return filters, text


# --- due-date ranges -------------------------------------------------------------------

_DUE = r"\b(?:(?:that\s+are\s+|which\s+are\s+)?due\s+)?"
_NEXT_DAYS = re.compile(
    rf"{_DUE}(?:(?:in|over|for|during)\s+)?(?:the\s+)?(?:next|coming)\s+(?P<n>{NUMBER})\s+days\b",
    _I,
)
_SPANS = re.compile(
    rf"{_DUE}(?:(?P<this_week>(?:this|the)\s+week(?:'s)?)|(?P<next_week>next\s+week(?:'s)?)"
    r"|(?P<this_month>this\s+month(?:'s)?)|(?P<next_month>next\s+month(?:'s)?)"
    r"|(?P<weekend>(?:this|the)\s+weekend)|(?P<soon>upcoming|coming\s+up|soon))\b",
    _I,
)
_BOUNDARY = re.compile(rf"{_DUE}(?P<kw>before|by|until|till|after|since|on|for)\s+", _I)


def _span(name: str, today: date) -> tuple[date, date]:
    sunday = today + timedelta(days=6 - today.weekday())
    next_monday = sunday + timedelta(days=1)
    month_start = today.replace(day=1) + relativedelta(months=1)
    spans = {
        "this_week": (today, sunday),
        "next_week": (next_monday, next_monday + timedelta(days=6)),
        "this_month": (today, today + relativedelta(day=31)),
        "next_month": (month_start, month_start + relativedelta(day=31)),
        "weekend": (max(today, sunday - timedelta(days=1)), sunday),
        "soon": (today, today + timedelta(days=7)),
    }
    return spans[name]


def _named_range(text: str, clock: Clock) -> tuple[tuple[date, date], str] | None:
    today = clock.today
    if (m := _NEXT_DAYS.search(text)) is not None:
        days = to_number(m.group("n"))
        if days is not None and days <= 3660:
            return (today, today + timedelta(days=days)), cut(text, m)
    if (m := _SPANS.search(text)) is not None:
        name = next(key for key, value in m.groupdict().items() if value)
        if name == "soon" and (day := extract_day(cut(text, m), clock)[0]) is not None:
            return (day.day, day.day), cut(text, m)  # "what's coming up tomorrow"
        return _span(name, today), cut(text, m)
    return None


_BETWEEN = re.compile(r"\b(?:due\s+)?(?:between|from)\s+", _I)
_AND_TO = re.compile(r"\s*(?:and|to|until|till|through|thru|-)\s+", _I)


def _between(text: str, clock: Clock) -> tuple[date, date, str] | None:
    """'due between march 1 and march 5', 'from monday to friday'."""
    for m in _BETWEEN.finditer(text):
        first = match_day_at(text, m.end(), clock)
        if first is None:
            continue
        joint = _AND_TO.match(text, first[1])
        last = match_day_at(text, joint.end(), clock) if joint else None
        if last is None or last[0].day < first[0].day:
            continue
        return first[0].day, last[0].day, cut_span(text, m.start(), last[1])
    return None


def _bounded(text: str, clock: Clock) -> tuple[date | None, date | None, str] | None:
    """'due before friday', 'due by june 1', 'after tomorrow', 'on monday'."""
    for m in _BOUNDARY.finditer(text):
        found = match_day_at(text, m.end(), clock)
        if found is None:
            continue
        day, rest = found[0].day, cut_span(text, m.start(), found[1])
        keyword = m.group("kw").lower()
        if keyword == "before":
            return None, day - timedelta(days=1), rest
        if keyword in ("by", "until", "till"):
            return None, day, rest
        if keyword in ("after", "since"):
            return day + timedelta(days=1) if keyword == "after" else day, None, rest
        return day, day, rest
    return None


def _dates(filters: TaskFilters, text: str, clock: Clock) -> tuple[TaskFilters, str]:
    if filters.overdue:  # overdue already says which days
        return filters, text
    if (between := _between(text, clock)) is not None:
        first, last, text = between
        return replace(filters, due_after=first, due_before=last), text
    if (named := _named_range(text, clock)) is not None:
        (first, last), text = named
        return replace(filters, due_after=first, due_before=last), text
    if (bounded := _bounded(text, clock)) is not None:
        after, before, text = bounded
        return replace(filters, due_after=after, due_before=before), text
    hit, rest = extract_day(re.sub(r"\b(?:due|for)\s+", " ", text, flags=_I), clock)
    if hit is not None:
        return replace(filters, due_after=hit.day, due_before=hit.day), rest
    return filters, text


# --- free-text search ------------------------------------------------------------------

_Q_MARKER = re.compile(
    r"\b(?:about|mentioning|mention|containing|contain|regarding|related\s+to|called|named"
    r"|titled|matching|with\s+the\s+words?|that\s+(?:mention|contain|say)s?|with)\s+(?P<q>.+)$",
    _I,
)
_QUOTED = re.compile(r"\"(?P<q>[^\"]+)\"")
_WHEN_IS = re.compile(
    r"^when\s+(?:is|are|was|do|does)\s+(?P<q>.+?)(?:\s+(?:due|coming|happening|scheduled"
    r"|planned|arriving|starting|supposed\s+to\s+(?:happen|be\s+done)|set\s+for))?\W*$",
    _I,
)
_Q_NOISE = re.compile(
    rf"\b(?:{_TASKS}|in\s+the\s+(?:title|name)|(?:in|on|from)\s+(?:my|the)\s+list)\b|^(?:for|me)\b",
    _I,
)
_GENERIC = frozenset({"everything", "anything", "all", "stuff", "something", "me", "them", "it"})


def _query(text: str) -> str | None:
    candidate: str | None = None
    if (when_is := _WHEN_IS.match(text)) is not None:
        candidate = when_is.group("q")
    elif (quoted := _QUOTED.search(text)) is not None:
        candidate = quoted.group("q")
    elif (marker := _Q_MARKER.search(text)) is not None:
        candidate = marker.group("q")
    elif (verb := _SEARCH_VERB.match(text)) is not None:
        candidate = text[verb.end() :]
    if candidate is None:
        return None
    query = clean_reference(_Q_NOISE.sub(" ", candidate))
    if query is None or query.lower() in _GENERIC:
        return None
    return query


def find_filters(text: str, clock: Clock) -> TaskFilters:
    """The GET /api/tasks filters a question asks for."""
    tags, text = extract_tags(text)
    priority, text = extract_priority(text, loose=True)
    filters = TaskFilters(tags=tags, priority=priority if priority != "none" else None)
    filters, text = _status(filters, text)
    filters, text = _recurring(filters, text)
    filters, text = _dates(filters, text, clock)
    return replace(filters, q=_query(text))
