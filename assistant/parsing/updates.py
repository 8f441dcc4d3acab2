"""Changes to an existing task: "move X to monday at 3pm", "rename X to Y",
"make X low priority", "change the priority of X to high", "tag X with home"."""

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta

from assistant.parsing.attributes import bare_priority, extract_priority, extract_tags
from assistant.parsing.clock import Clock
from assistant.parsing.details import Details, read_details
from assistant.parsing.lexicon import LIST_JOINER, NUMBER
from assistant.parsing.reading import DueChange, Priority, Reading
from assistant.parsing.text import clean_reference, tidy_title, to_number

_I = re.IGNORECASE
MAX_SPLITS = 6  # "move the trip to paris to friday" has two; more is not a request
_FILLER = re.compile(r"\b(?:due|it|instead|the\s+deadline|deadline|please|now|then|again)\b", _I)
_TO = re.compile(r"\s+(?:to|as|into)\s+", _I)
_RESCHEDULE_TO = re.compile(r"\s+(?:to|for|until|till|on|back\s+to)\s+", _I)
_FIELDS = (
    r"(?P<field>priority|due\s+date|due\s+time|deadline|date|time|due|title|name|tags?|labels?)"
)
_CHANGE_VERB = r"(?:change|update|edit|set|make|move|push|switch|adjust|modify)"


@dataclass(frozen=True, slots=True)
class _Change:
    reading: Reading  # an update_task reading without its task reference
    clean: bool  # the value was read in full, nothing left over


def _change(value: str, clock: Clock, *, title_ok: bool) -> _Change | None:
    value = value.strip(" .!?")
    if (level := bare_priority(value)) is not None:
        return _Change(Reading(intent="update_task", priority=level), True)
    details = read_details(value, clock, loose_priority=True)
    leftover = tidy_title(_FILLER.sub(" ", details.rest))
    if details.has_changes:
        reading = Reading(
            intent="update_task",
            due_at=details.due_at,
            priority=details.priority,
            tags=details.tags,
            recurrence_rule=details.recurrence_rule,
            due_change=_as_said(details),
        )
        return _Change(reading, leftover is None)
    title = tidy_title(value)
    if title_ok and title is not None:
        return _Change(Reading(intent="update_task", title=title), True)
    return None


def _as_said(details: Details) -> DueChange | None:
    """The day and time as said, to merge with the task's ("move it to friday" keeps
    its 5 pm); None for an exact instant ("in 2 hours") or a new repeat."""
    when = details.when
    if when is None or when.instant is not None or details.recurrence_rule is not None:
        return None
    return DueChange(day=when.day, clock_time=when.clock_time)


_UNIT = r"(?P<unit>minutes?|mins?|min|hours?|hrs?|hr|days?|weeks?)"
_SHIFT = re.compile(
    rf"^(?P<ref>.+?)\s+(?:(?P<dir>back|out|forward|ahead|later|earlier)\s+)?(?:by\s+)?"
    rf"(?P<n>\d+(?:\.\d+)?|{NUMBER}|half\s+an)\s*{_UNIT}"
    r"(?:\s+(?P<dir2>later|earlier|back|forward|ahead|out))?$",
    _I,
)
_EARLIER = ("forward", "ahead", "earlier")
_NOT_A_SHIFT = re.compile(r"\b(?:in|to|for|until|till|at|on|within)$", _I)
_BRING_FORWARD = re.compile(
    r"^(?P<verb>bring|pull|move)\s+(?P<body>.+\s(?:forward|ahead)\b.*)$", _I
)


def _bring_forward(body: str, clock: Clock) -> Reading | None:
    """Bring the meeting forward by an hour: the verb's object sits before 'forward'."""
    if (m := _BRING_FORWARD.match(body)) is None:
        return None
    return _shift(m.group("verb"), m.group("body"))


def _shift(verb: str, rest: str) -> Reading | None:
    """A shift of the due time: "postpone the dentist by 2 days", "push it back an hour"."""
    if (m := _SHIFT.match(rest)) is None or _NOT_A_SHIFT.search(m.group("ref")):
        return None
    task = clean_reference(m.group("ref"))
    word = m.group("n").lower()
    amount = 0.5 if word.startswith("half") else to_number(word)
    if amount is None:
        try:
            amount = float(word)
        except ValueError:
            return None
    unit = m.group("unit").lower()
    minutes = {"m": 1, "h": 60, "d": 1440, "w": 10080}[unit[0]]
    delta = timedelta(minutes=min(amount * minutes, 10 * 366 * 1440))
    direction = (m.group("dir") or m.group("dir2") or "").lower()
    if direction in _EARLIER or re.search(r"\bforward\b", verb, _I):
        delta = -delta
    if task is None or not delta:
        return None
    return Reading(intent="update_task", task=task, due_change=DueChange(shift=delta))


def _splits(body: str, connector: re.Pattern[str]) -> Iterator[tuple[str, str]]:
    """(reference, value) pairs, splitting at each connector, longest value first."""
    for m in itertools.islice(connector.finditer(body), MAX_SPLITS):
        yield body[: m.start()], body[m.end() :]


def _with_task(change: _Change | None, reference: str) -> Reading | None:
    task = clean_reference(reference)
    if change is None or task is None:
        return None
    return replace(change.reading, task=task)


def _split_change(
    body: str, connector: re.Pattern[str], clock: Clock, *, title_ok: bool
) -> Reading | None:
    """The longest value that reads cleanly; else the first split (as a title)."""
    candidates = list(_splits(body, connector))
    for reference, value in candidates:
        change = _change(value, clock, title_ok=False)
        if change is not None and change.clean:
            return _with_task(change, reference)
    if not candidates:
        return None
    reference, value = candidates[0]
    return _with_task(_change(value, clock, title_ok=title_ok), reference)


_RENAME = re.compile(
    r"^(?:rename|re-name|retitle|re-title)\s+(?P<ref>.+?)\s+(?:to|as|into)\s+(?P<val>.+)$", _I
)
_FIELD_OF = re.compile(
    rf"^{_CHANGE_VERB}\s+(?:the\s+)?{_FIELDS}\s+(?:of|for|on)\s+(?P<body>.+)$", _I
)
_FIELD_POSSESSIVE = re.compile(
    rf"^{_CHANGE_VERB}\s+(?P<ref>.+?)'s\s+{_FIELDS}\s+(?:to|as|into)\s+(?P<val>.+)$", _I
)
_RESCHEDULE = re.compile(
    r"^(?:move|reschedule|re-schedule|postpone|push(?:\s+back)?|delay|defer|shift|bump"
    r"|put\s+off|bring\s+forward|pull\s+forward)\s+(?P<body>.+)$",
    _I,
)
_PUSH_TAIL = re.compile(
    r"\s+(?:(?:back|forward|out|ahead)(?:\s+by)?|by)(?:\s+(?:a|an|one|\d+)\s+"
    r"(?:days?|weeks?|hours?|minutes?|months?))?$",
    _I,
)
_FROM_DAY = re.compile(r"\s+from\s+\S+(?:\s+\S+)?$", _I)
_MAKE = re.compile(
    r"^(?:make|mark|flag|set)\s+(?P<ref>.+?)\s+(?:as\s+)?(?P<val>(?:a\s+)?(?:high|highest|top"
    r"|medium|low|lowest)\s*-?\s*priority|urgent|important|p[1-4]|(?:due|recurring|repeat(?:ing)?"
    r"|recur)\b.*)$",
    _I,
)
_PRIORITIZE = re.compile(r"^(?P<de>de-?)?prioriti[sz]e\s+(?P<ref>.+)$", _I)
_TAG = re.compile(r"^(?:tag|label)\s+(?P<ref>.+?)\s+(?:with|as)\s+(?P<val>.+)$", _I)
_ADD_TAG = re.compile(
    r"^add\s+(?:the\s+)?(?:(?:tags?|labels?)\s+(?P<val>.+?)|(?P<hash>#[\w-]+(?:[\s,]+(?:and\s+)?"
    r"#[\w-]+)*))\s+to\s+(?P<ref>.+)$",
    _I,
)
_SET_TO = re.compile(
    r"^(?P<verb>change|set|update|make|mark|switch|turn|edit|modify)\s+(?!up\b)(?P<body>.+)$", _I
)
_NOW_DUE = re.compile(
    r"^(?P<ref>.+?)\s+(?:is\s+now|is|should\s+be|now|will\s+be)\s+due\s+(?P<val>.+)$", _I
)
_WORDS = re.compile(rf"{LIST_JOINER}|\s+", _I)


def _rename(body: str, clock: Clock) -> Reading | None:
    if (m := _RENAME.match(body)) is None:
        return None
    title = tidy_title(m.group("val"))
    if title is None:
        return None
    return _with_task(_Change(Reading(intent="update_task", title=title), True), m.group("ref"))


def _field_change(field: str, value: str, clock: Clock) -> _Change | None:
    field = field.lower()
    if field == "priority":
        level = bare_priority(value) or extract_priority(value, loose=True)[0]
        return _Change(Reading(intent="update_task", priority=level), True) if level else None
    if field in ("title", "name"):
        title = tidy_title(value)
        return _Change(Reading(intent="update_task", title=title), True) if title else None
    if field.startswith(("tag", "label")):
        tags, rest = extract_tags(value)
        words = tuple(w.lower() for w in _WORDS.split(rest) if w.strip())
        all_tags = tags + tuple(w for w in words if w not in tags)
        return _Change(Reading(intent="update_task", tags=all_tags), True) if all_tags else None
    return _change(value, clock, title_ok=False)


def _field_of(body: str, clock: Clock) -> Reading | None:
    if (m := _FIELD_POSSESSIVE.match(body)) is not None:
        return _with_task(_field_change(m["field"], m["val"], clock), m.group("ref"))
    if (m := _FIELD_OF.match(body)) is None:
        return None
    for reference, value in _splits(m.group("body"), _TO):
        change = _field_change(m["field"], value, clock)
        if change is not None:
            return _with_task(change, reference)
    return None


def _reschedule(body: str, clock: Clock) -> Reading | None:
    if (m := _RESCHEDULE.match(body)) is None:
        return None
    rest = m.group("body")
    if (shifted := _shift(body[: m.start("body")], rest)) is not None:
        return shifted
    for reference, value in _splits(rest, _RESCHEDULE_TO):
        change = _change(value, clock, title_ok=False)
        if change is not None and change.clean:
            return _with_task(change, _FROM_DAY.sub("", reference))
    details = read_details(rest, clock)
    task = clean_reference(_PUSH_TAIL.sub("", details.rest))
    if task is None:
        return None
    return Reading(
        intent="update_task",
        task=task,
        due_at=details.due_at,
        recurrence_rule=details.recurrence_rule,
        due_change=_as_said(details),
    )


def _make(body: str, clock: Clock) -> Reading | None:
    if (m := _MAKE.match(body)) is None:
        return None
    return _with_task(_change(m.group("val"), clock, title_ok=False), m.group("ref"))


def _prioritize(body: str, clock: Clock) -> Reading | None:
    if (m := _PRIORITIZE.match(body)) is None:
        return None
    level: Priority = "low" if m.group("de") else "high"
    return _with_task(_Change(Reading(intent="update_task", priority=level), True), m["ref"])


_RAISE_LOWER = re.compile(
    r"^(?P<dir>lower|raise|increase|decrease|reduce|bump\s+up|bump\s+down|drop)\s+"
    r"(?:the\s+)?(?:priority|importance|urgency)\s+(?:of|on|for)\s+(?P<ref>.+)$",
    _I,
)


def _raise_lower(body: str, clock: Clock) -> Reading | None:
    """Lower the priority of X (low), raise the priority of X (high)."""
    if (m := _RAISE_LOWER.match(body)) is None:
        return None
    up = m.group("dir").lower() in ("raise", "increase", "bump up")
    level: Priority = "high" if up else "low"
    return _with_task(_Change(Reading(intent="update_task", priority=level), True), m["ref"])


def _tagging(body: str, clock: Clock) -> Reading | None:
    m = _TAG.match(body) or _ADD_TAG.match(body)
    if m is None:
        return None
    value = m.groupdict().get("val") or m.groupdict().get("hash") or ""
    return _with_task(_field_change("tags", value, clock), m.group("ref"))


def _set_to(body: str, clock: Clock) -> Reading | None:
    if (m := _SET_TO.match(body)) is None:
        return None
    title_ok = m.group("verb").lower() in ("change", "update", "switch", "turn", "edit", "modify")
    return _split_change(m.group("body"), _TO, clock, title_ok=title_ok)


def _now_due(body: str, clock: Clock) -> Reading | None:
    if (m := _NOW_DUE.match(body)) is None:
        return None
    change = _change(m.group("val"), clock, title_ok=False)
    if change is None or change.reading.due_at is None:
        return None
    return _with_task(change, m.group("ref"))


_READERS: tuple[Callable[[str, Clock], Reading | None], ...] = (
    _rename, _raise_lower, _field_of, _tagging, _prioritize, _bring_forward, _reschedule,
    _make, _set_to, _now_due,
)  # fmt: skip


def read_change(value: str, clock: Clock) -> Reading | None:
    """A change said on its own ("friday at 3pm", "2 days later", "high priority"),
    read in full."""
    if (shifted := _shift("move", f"it {value}")) is not None:
        return replace(shifted, task=None)
    change = _change(value, clock, title_ok=False)
    return change.reading if change is not None and change.clean else None


def read_update(text: str, clock: Clock) -> Reading | None:
    body = text.rstrip(" .!?")
    for reader in _READERS:
        if (reading := reader(body, clock)) is not None:
            return reading
    return None
