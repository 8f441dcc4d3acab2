"""Day expressions: "tomorrow", "on friday", "march 3", "in 2 weeks", "12/05", "the 15th".

Each rule is a pattern and a resolver; `extract_day` takes the earliest match in a text.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from dateutil.rrule import weekday

from assistant.parsing.clock import Clock
from assistant.parsing.lexicon import (
    DAY_OF_MONTH,
    MONTH,
    MONTHS,
    NUMBER,
    ORDINAL,
    ORDINAL_WORDS,
    PERIOD,
    WEEKDAY_ANY,
    WEEKDAY_FULL,
    WEEKDAYS,
)
from assistant.parsing.text import WordFinder, cut, single_spaced, to_number

_I = re.IGNORECASE
_LEAD = r"(?:(?:due\s+)?(?:on|by|for|before)\s+|due\s+)?"
_TAIL = rf"(?:\s+(?:in\s+the\s+|at\s+|during\s+the\s+)?(?P<period>{PERIOD}))?\b"
_ABBREVIATED_DAY = r"(?:mon|tues?|wed|thu(?:rs?)?|fri|sat|sun)"
_UNITS = r"(?:day|week|fortnight|month|year)"


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
    word = single_spaced(match.group("word").lower())
    if word.endswith("after tomorrow"):
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
    span = single_spaced(match.group("span").lower())
    monday_next = today + timedelta(days=7 - today.weekday())
    if span == "next week":
        found = monday_next
    elif span == "next month":
        found = today.replace(day=1) + relativedelta(months=1)
    elif span == "next year":
        found = date(today.year + 1, 1, 1)
    elif span == "next weekend":
        found = monday_next + timedelta(days=5)
    elif "end of" in span:
        found = date(today.year, 12, 31) if span.endswith("year") else today + relativedelta(day=31)
    else:  # this weekend: Saturday, or today when the weekend has begun
        found = today if today.weekday() >= 5 else today + timedelta(days=5 - today.weekday())
    return DayHit(found, _period(match))


def _numeric(match: re.Match[str], today: date, *, month_first: bool) -> DayHit | None:
    first, second = int(match.group("a")), int(match.group("b"))
    month, day = (first, second) if month_first else (second, first)
    if month > 12 >= day:  # 12/25 read day-first, or 25/12 month-first: swap
        month, day = day, month
    year = match.group("y")
    if year:
        full_year = int(year) + (2000 if len(year) == 2 else 0)
        found = _safe_date(full_year, month, day)
    else:
        found = next_month_day(today, month, day)
    return DayHit(found, _period(match)) if found else None


def _month_first(match: re.Match[str], today: date) -> DayHit | None:
    return _numeric(match, today, month_first=True)


def _day_first(match: re.Match[str], today: date) -> DayHit | None:
    return _numeric(match, today, month_first=False)


def _nth_weekday(match: re.Match[str], today: date) -> DayHit | None:
    """The last friday of the month, the first monday of next month / of june."""
    ordinal = ORDINAL_WORDS[match.group("ord").lower()]
    day_of_week = weekday(WEEKDAYS[match.group("wd").lower()])(ordinal)
    scope = single_spaced(match.group("scope").lower())
    this_month = today.replace(day=1)
    year = match.groupdict().get("y")
    if scope in MONTHS and year:  # "the 1st fri in feb 2011": that month, even if past
        month = date(int(year), MONTHS[scope], 1)
        found = month + relativedelta(day=1 if ordinal > 0 else 31, weekday=day_of_week)
        return DayHit(found, _period(match)) if found.month == month.month else None
    if scope in MONTHS:
        month = this_month.replace(month=MONTHS[scope])
        starts = [month, month + relativedelta(years=1)]
    elif scope.startswith("next"):
        starts = [this_month + relativedelta(months=1)]
    else:
        starts = [this_month, this_month + relativedelta(months=1)]
    for start in starts:
        found = start + relativedelta(day=1 if ordinal > 0 else 31, weekday=day_of_week)
        if found.month == start.month and found >= today:
            return DayHit(found, _period(match))
    return None


def _before_month(match: re.Match[str], today: date) -> DayHit | None:
    """Before july: the last day before the next July begins."""
    month = MONTHS[match.group("mon").lower()]
    year = today.year + (month <= today.month)
    return DayHit(date(year, month, 1) - timedelta(days=1), _period(match))


def _end_of_month(match: re.Match[str], today: date) -> DayHit | None:
    """By the end of july: the last day of the next July (this one while it lasts)."""
    month = MONTHS[match.group("mon").lower()]
    year = today.year + (month < today.month)
    return DayHit(date(year, month, 1) + relativedelta(months=1, days=-1), _period(match))


def _rule(core: str, resolve: _DayResolver, lead: str = _LEAD) -> _DayRule:
    return _DayRule(re.compile(rf"\b{lead}{core}{_TAIL}", _I), resolve)


_NUMERIC = r"(?<![\d/.:-])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?(?![\d/])"
_MONTH_FIRST_RULE = _rule(_NUMERIC, _month_first)
_DAY_FIRST_RULE = _rule(_NUMERIC, _day_first)
_DAY_RULES: tuple[_DayRule, ...] = (
    _rule(rf"before\s+(?P<mon>{MONTH})\b(?!\.?\s*\d)", _before_month, lead=""),
    _rule(
        rf"(?:by\s+|before\s+)?(?:the\s+)?end\s+of\s+(?P<mon>{MONTH})\b(?!\.?\s*\d)",
        _end_of_month,
        lead="",
    ),
    _rule(
        rf"(?:the\s+)?(?P<ord>{ORDINAL})\s+(?P<wd>{WEEKDAY_ANY})\s+(?:of|in)\s+"
        rf"(?P<scope>(?:the|this|next)\s+month|{MONTH})\b(?:,?\s+(?P<y>\d{{4}})\b)?",
        _nth_weekday,
    ),
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
    _rule(rf"(?:in|within)\s+(?P<n>{NUMBER})\s+(?P<unit>{_UNITS})s?\b", _in_units),
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
        r"|(?:the\s+)?end\s+of\s+(?:the\s+)?(?:month|year))",
        _named_span,
    ),
)


def _rules(clock: Clock) -> tuple[_DayRule, ...]:
    return (*_DAY_RULES, _MONTH_FIRST_RULE if clock.month_first else _DAY_FIRST_RULE)


# Where any rule matches: one scan finds the place, then each rule is tried right there.
_ANY_DAY = WordFinder(rule.pattern for rule in (*_DAY_RULES, _MONTH_FIRST_RULE))


def _first_day_match(text: str, clock: Clock) -> tuple[DayHit, re.Match[str]] | None:
    """The earliest day expression in `text` (the longest when two start together; the
    first rule listed when they also end together)."""
    today = clock.today
    rules = _rules(clock)
    pos = 0
    while (start := _ANY_DAY.search(text, pos)) is not None:
        best: tuple[DayHit, re.Match[str]] | None = None
        for rule in rules:
            match = rule.pattern.match(text, start)
            if match is None or (best is not None and match.end() <= best[1].end()):
                continue
            hit = _resolve_day(rule, match, today)
            if hit is not None:
                best = (hit, match)
        if best is not None:
            return best
        pos = start + 1  # a date that does not exist ("feb 30"): look further on
    return None


def _resolve_day(rule: _DayRule, match: re.Match[str], today: date) -> DayHit | None:
    try:
        return rule.resolve(match, today)
    except (ValueError, OverflowError, KeyError):
        return None


def extract_day(text: str, clock: Clock) -> tuple[DayHit | None, str]:
    """The first day expression in `text`, and the text without it."""
    found = _first_day_match(text, clock)
    if found is None:
        return None, text
    hit, match = found
    return hit, cut(text, match)


def match_day_at(text: str, pos: int, clock: Clock) -> tuple[DayHit, int] | None:
    """A day expression starting exactly at `pos` (after "until", "starting"...)."""
    for rule in _rules(clock):
        match = rule.pattern.match(text, pos)
        if match is None:
            continue
        hit = _resolve_day(rule, match, clock.today)
        if hit is not None:
            return hit, match.end()
    return None
