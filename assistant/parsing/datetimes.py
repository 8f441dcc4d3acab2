"""Date and time-of-day expressions: "tomorrow at 5pm", "on march 3", "in 2 hours".

`extract_when` finds at most one day, one time of day and one relative instant in a
text and returns them with the text that is left once they are cut out.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from assistant.parsing.clock import Clock
from assistant.parsing.lexicon import (
    DAY_OF_MONTH,
    MONTH,
    MONTHS,
    NAMED_TIMES,
    NUMBER,
    PERIOD,
    PERIOD_TIMES,
    WEEKDAY_FULL,
    WEEKDAYS,
)
from assistant.parsing.text import cut, to_number

_I = re.IGNORECASE
_LEAD = r"(?:(?:due\s+)?(?:on|by|for|before)\s+|due\s+)?"
_TAIL = rf"(?:\s+(?:in\s+the\s+|at\s+|during\s+the\s+)?(?P<period>{PERIOD}))?\b"
_ABBREVIATED_DAY = r"(?:mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)"
_UNITS = r"(?:day|week|fortnight|month|year)"


@dataclass(frozen=True, slots=True)
class When:
    """A day, a time of day, or an exact instant (from "in N minutes/hours")."""

    day: date | None = None
    clock_time: time | None = None
    instant: datetime | None = None

    def resolve(self, clock: Clock, default_time: time) -> datetime | None:
        """The aware instant meant; a day without a time takes `default_time`."""
        if self.instant is not None:
            return self.instant
        if self.day is not None:
            return clock.at(self.day, self.clock_time or default_time)
        if self.clock_time is not None:
            return clock.localize(clock.next_wall_time(self.clock_time))
        return None


@dataclass(frozen=True, slots=True)
class DayHit:
    day: date
    period: str | None = None


_DayResolver = Callable[[re.Match[str], date], DayHit | None]


@dataclass(frozen=True, slots=True)
class _DayRule:
    pattern: re.Pattern[str]
    resolve: _DayResolver


def _period(match: re.Match[str]) -> str | None:
    value = match.groupdict().get("period")
    return value.lower() if value else None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _relative_word(match: re.Match[str], today: date) -> DayHit | None:
    word = re.sub(r"\s+", " ", match.group("word").lower())
    if "after" in word:
        return DayHit(today + timedelta(days=2), _period(match))
    if word.startswith("tom") or word.startswith("tm"):
        return DayHit(today + timedelta(days=1), _period(match))
    if word == "yesterday":
        return DayHit(today - timedelta(days=1), _period(match))
    if word in ("tonight", "tonite"):
        return DayHit(today, "tonight")
    if word.startswith("this "):
        return DayHit(today, word.split(" ", 1)[1])
    return DayHit(today, _period(match))


def _iso_date(match: re.Match[str], today: date) -> DayHit | None:
    found = _safe_date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
    return DayHit(found, _period(match)) if found else None


def next_month_day(today: date, month: int, day: int) -> date | None:
    """Month/day this year, or next year's when it has passed (Feb 29: next leap year)."""
    for year in range(today.year, today.year + 9):
        found = _safe_date(year, month, day)
        if found is not None and found >= today:
            return found
    return None


def _month_day(match: re.Match[str], today: date) -> DayHit | None:
    month = MONTHS[match.group("mon").lower().rstrip(".")]
    day = int(match.group("d"))
    if match.group("y"):
        found = _safe_date(int(match.group("y")), month, day)
    else:
        found = next_month_day(today, month, day)
    return DayHit(found, _period(match)) if found else None


def _in_units(match: re.Match[str], today: date) -> DayHit | None:
    count = to_number(match.group("n") or "1")
    unit = match.group("unit").lower()
    if count is None or count > 1000:
        return None
    steps = {
        "day": relativedelta(days=count),
        "week": relativedelta(weeks=count),
        "fortnight": relativedelta(weeks=2 * count),
        "month": relativedelta(months=count),
        "year": relativedelta(years=count),
    }
    return DayHit(today + steps[unit], _period(match))


def next_weekday(today: date, weekday: int) -> date:
    """The first such weekday after today (never today)."""
    return today + timedelta(days=(weekday - today.weekday()) % 7 or 7)


def _weekday(match: re.Match[str], today: date) -> DayHit | None:
    weekday = WEEKDAYS[match.group("wd").lower().rstrip(".")]
    if match.groupdict().get("nextweek"):
        monday = today + timedelta(days=7 - today.weekday())
        return DayHit(monday + timedelta(days=weekday), _period(match))
    return DayHit(next_weekday(today, weekday), _period(match))


def _ordinal_day(match: re.Match[str], today: date) -> DayHit | None:
    day = int(match.group("d"))
    for months_ahead in range(13):
        first = today.replace(day=1) + relativedelta(months=months_ahead)
        found = _safe_date(first.year, first.month, day)
        if found is not None and found >= today:
            return DayHit(found, _period(match))
    return None


def _named_span(match: re.Match[str], today: date) -> DayHit | None:
    span = re.sub(r"\s+", " ", match.group("span").lower())
    monday_next = today + timedelta(days=7 - today.weekday())
    if span == "next week":
        found = monday_next
    elif span == "next month":
        found = today.replace(day=1) + relativedelta(months=1)
    elif span == "next year":
        found = date(today.year + 1, 1, 1)
    elif span == "next weekend":
        found = monday_next + timedelta(days=5)
    elif span.startswith("end of"):
        found = today + relativedelta(day=31)
    else:  # this weekend: Saturday, or today when the weekend has begun
        found = today if today.weekday() >= 5 else today + timedelta(days=5 - today.weekday())
    return DayHit(found, _period(match))


def _rule(core: str, resolve: _DayResolver, lead: str = _LEAD) -> _DayRule:
    return _DayRule(re.compile(rf"\b{lead}{core}{_TAIL}", _I), resolve)


_DAY_RULES: tuple[_DayRule, ...] = (
    _rule(
        r"(?P<word>(?:the\s+)?day\s+after\s+tomorrow|tomorrow|tomorow|tmrw|tmr|today|tonight"
        r"|tonite|this\s+(?:morning|afternoon|evening)|later\s+today|end\s+of\s+(?:the\s+)?day"
        r"|eod|yesterday)",
        _relative_word,
    ),
    _rule(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?!\d)", _iso_date),
    _rule(
        rf"(?:the\s+)?(?P<mon>{MONTH})\b\.?\s+(?:the\s+)?(?P<d>{DAY_OF_MONTH})(?:st|nd|rd|th)?"
        r"(?:,?\s+(?P<y>\d{4}))?(?![\d:]|\s*[ap]\.?m\b)",
        _month_day,
    ),
    _rule(
        rf"(?:the\s+)?(?P<d>{DAY_OF_MONTH})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>{MONTH})\b\.?"
        r"(?:,?\s+(?P<y>\d{4}))?",
        _month_day,
    ),
    _rule(rf"in\s+(?P<n>{NUMBER})\s+(?P<unit>{_UNITS})s?\b", _in_units),
    _rule(rf"(?P<n>{NUMBER})\s+(?P<unit>{_UNITS})s?\s+from\s+(?:now|today)\b", _in_units),
    _rule(
        rf"(?:(?:next|this|coming|this\s+coming)\s+)?(?P<wd>{WEEKDAY_FULL})\b"
        r"(?P<nextweek>\s+next\s+week)?",
        _weekday,
    ),
    _rule(
        rf"(?:(?:on|next|this|coming|by|due|for)\s+)(?P<wd>{_ABBREVIATED_DAY})\b\.?",
        _weekday,
        lead="",
    ),
    _rule(rf"the\s+(?P<d>{DAY_OF_MONTH})(?:st|nd|rd|th)\b", _ordinal_day),
    _rule(
        r"(?P<span>next\s+(?:week(?:end)?|month|year)|(?:this|the|over\s+the)\s+weekend"
        r"|end\s+of\s+(?:the\s+)?month)",
        _named_span,
    ),
)


def _first_day_match(text: str, today: date) -> tuple[DayHit, re.Match[str]] | None:
    """The earliest day expression in `text` (the longest when two start together)."""
    best: tuple[DayHit, re.Match[str]] | None = None
    for rule in _DAY_RULES:
        for match in rule.pattern.finditer(text):
            hit = _resolve_day(rule, match, today)
            if hit is None:
                continue
            if best is None or (match.start(), -match.end()) < (best[1].start(), -best[1].end()):
                best = (hit, match)
            break
    return best


def _resolve_day(rule: _DayRule, match: re.Match[str], today: date) -> DayHit | None:
    try:
        return rule.resolve(match, today)
    except (ValueError, OverflowError, KeyError):
        return None


def extract_day(text: str, today: date) -> tuple[DayHit | None, str]:
    """The first day expression in `text`, and the text without it."""
    found = _first_day_match(text, today)
    if found is None:
        return None, text
    hit, match = found
    return hit, cut(text, match)


def match_day_at(text: str, pos: int, today: date) -> tuple[DayHit, int] | None:
    """A day expression starting exactly at `pos` (after "until", "starting"...)."""
    for rule in _DAY_RULES:
        match = rule.pattern.match(text, pos)
        if match is None:
            continue
        hit = _resolve_day(rule, match, today)
        if hit is not None:
            return hit, match.end()
    return None


# --- time of day ---------------------------------------------------------------------

_AT = r"(?:\b(?:at|by|around|before|from)\s+|@\s*)?"
_NOT_A_COUNT = (
    r"(?![:.]\d|\s*(?:%|st\b|nd\b|rd\b|th\b|[ap]\.?m\b|(?:minutes?|mins?|hours?|hrs?|days?"
    r"|weeks?|months?|years?|times?|people|persons?|percent|dollars?|euros?|pounds?)\b))"
)
_TWELVE_HOUR = re.compile(
    rf"{_AT}\b(?P<h>1[0-2]|0?[1-9])(?:[:.](?P<m>[0-5]\d))?\s*(?P<ap>[ap])\.?m\b\.?", _I
)
_TWENTY_FOUR_HOUR = re.compile(
    rf"{_AT}\b(?P<h>[01]?\d|2[0-3])[:h](?P<m>[0-5]\d)\b(?!\s*[ap]\.?m\b)", _I
)
_NAMED_TIME = re.compile(
    rf"{_AT}\b(?P<named>noon|midday|midnight|lunch\s*time)\b", _I
)
_BARE_HOUR = re.compile(
    rf"(?:\b(?:at|around)\s+|@\s*)(?P<h>[01]?\d|2[0-3])(?:\s*o'?clock\b)?\b{_NOT_A_COUNT}"
    r"|\b(?P<h2>1[0-2]|0?[1-9])\s*o'?clock\b",
    _I,
)
_PERIOD_PHRASE = re.compile(
    rf"\b(?:in\s+the|at|during\s+the|later\s+in\s+the)\s+(?P<period>{PERIOD})\b", _I
)


@dataclass(frozen=True, slots=True)
class _TimeHit:
    value: time
    ambiguous: bool  # no am/pm given: "at 7" may mean 7pm in the evening


def _time_hit(match: re.Match[str]) -> _TimeHit:
    groups = match.groupdict()
    if groups.get("named"):
        return _TimeHit(NAMED_TIMES[re.sub(r"\s+", "", groups["named"].lower())], False)
    hour = int(groups.get("h") or groups.get("h2") or 0)
    minute = int(groups.get("m") or 0)
    meridiem = (groups.get("ap") or "").lower()
    if meridiem:
        hour = hour % 12 + (12 if meridiem == "p" else 0)
        return _TimeHit(time(hour, minute), False)
    padded = (groups.get("h") or "").startswith("0")
    if 1 <= hour <= 6 and not padded:
        return _TimeHit(time(hour + 12, minute), True)
    return _TimeHit(time(hour, minute), 7 <= hour <= 11 and not padded)


def _extract_clock_time(text: str) -> tuple[_TimeHit | None, str]:
    matches = [
        m
        for pattern in (_TWELVE_HOUR, _TWENTY_FOUR_HOUR, _NAMED_TIME, _BARE_HOUR)
        if (m := pattern.search(text)) is not None
    ]
    if not matches:
        return None, text
    match = min(matches, key=lambda m: (m.start(), -m.end()))
    return _time_hit(match), cut(text, match)


def _combine(hit: _TimeHit | None, period: str | None) -> time | None:
    if hit is None:
        return PERIOD_TIMES.get(period) if period else None
    hour = hit.value.hour
    if hit.ambiguous and period in ("afternoon", "evening", "night", "tonight") and hour < 12:
        return hit.value.replace(hour=hour + 12)
    if hit.ambiguous and period == "morning" and hour > 12:
        return hit.value.replace(hour=hour - 12)
    return hit.value


# --- instants: "in 45 minutes", "in 2 hours" ------------------------------------------

_HOURS = r"(?:hours?|hrs?|hr|h)"
_MINUTES = r"(?:minutes?|mins?|min|m)"
_AMOUNT = rf"(?:\d+(?:\.\d+)?|{NUMBER})"
_INSTANT = re.compile(
    r"\bin\s+(?:(?P<halfhour>half\s+an\s+hour|a\s+half\s+hour|an\s+hour\s+and\s+a\s+half)\b"
    rf"|(?P<hn>{_AMOUNT})(?P<half>\s+and\s+a\s+half)?\s*{_HOURS}\b"
    rf"(?:\s*(?:and\s+)?(?P<hm>{_AMOUNT})\s*{_MINUTES}\b)?"
    rf"|(?P<mn>{_AMOUNT})\s*{_MINUTES}\b)"
    rf"|\b(?P<fn>{_AMOUNT})\s*(?P<funit>{_HOURS}|{_MINUTES})\s+from\s+now\b",
    _I,
)


def _amount(word: str | None) -> float:
    if not word:
        return 0.0
    try:
        return float(word)
    except ValueError:
        return float(to_number(word) or 0)


def _instant_delta(match: re.Match[str]) -> timedelta:
    g = match.groupdict()
    if g["halfhour"]:
        return timedelta(minutes=90 if "and" in g["halfhour"].lower() else 30)
    if g["fn"]:
        unit = 60 if g["funit"].lower().startswith("h") else 1
        return timedelta(minutes=_amount(g["fn"]) * unit)
    hours = _amount(g["hn"]) + (0.5 if g["half"] else 0.0)
    return timedelta(hours=hours, minutes=_amount(g["hm"]) + _amount(g["mn"]))


def _extract_instant(text: str, clock: Clock) -> tuple[datetime | None, str]:
    match = _INSTANT.search(text)
    if match is None:
        return None, text
    try:
        delta = _instant_delta(match)
        if delta > timedelta(days=3660):
            return None, text
        return clock.after(delta), cut(text, match)
    except (ValueError, OverflowError):
        return None, text


def extract_when(text: str, clock: Clock) -> tuple[When | None, str]:
    """The time expression in `text` (if any) and the text without it."""
    instant, rest = _extract_instant(text, clock)
    if instant is not None:
        return When(instant=instant), rest
    day_hit, rest = extract_day(text, clock.today)
    time_hit, rest = _extract_clock_time(rest)
    period = day_hit.period if day_hit else None
    phrase = _PERIOD_PHRASE.search(rest)
    if phrase is not None:
        period = period or phrase.group("period").lower()
        rest = cut(rest, phrase)
    clock_time = _combine(time_hit, period)
    if day_hit is None and clock_time is None:
        return None, text
    return When(day=day_hit.day if day_hit else None, clock_time=clock_time), rest
