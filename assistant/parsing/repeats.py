"""Repeat phrases: "every weekday", "every other week on friday", "on the 15th of every
month", "daily", with their limits ("until june 1", "10 times", "starting monday")."""

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from assistant.parsing.clock import Clock
from assistant.parsing.days import match_day_at
from assistant.parsing.lexicon import (
    DAY_OF_MONTH,
    LIST_JOINER,
    MONTH,
    MONTHS,
    NUMBER,
    ORDINAL,
    ORDINAL_WORDS,
    PERIOD,
    PERIOD_TIMES,
    WEEKDAY_ANY,
    WEEKDAY_PLURAL,
    WEEKDAYS,
)
from assistant.parsing.recurrence import Frequency, Recurrence
from assistant.parsing.text import WordFinder, cut_span, single_spaced, to_number

_I = re.IGNORECASE
MAX_REPEAT = 1000
_UNIT_FREQUENCY: dict[str, Frequency] = {
    "hour": "HOURLY", "day": "DAILY", "week": "WEEKLY", "month": "MONTHLY", "year": "YEARLY",
}  # fmt: skip

_EVERY = r"\b(?:every|each)\s+(?:single\s+)?"
_WD_LIST = rf"{WEEKDAY_ANY}\b(?:{LIST_JOINER}{WEEKDAY_ANY}\b)*"
_WD_PLURALS = rf"{WEEKDAY_PLURAL}\b(?:{LIST_JOINER}{WEEKDAY_PLURAL}\b)*"
_NTH = rf"(?P<d>{DAY_OF_MONTH})(?:st|nd|rd|th)"
_OF_MONTH = r"\s+of\s+(?:the|each|every)\s+month\b"
_OF_EVERY_MONTH = r"\s+of\s+(?:each|every)\s+month\b"
_WEEKDAY_SPLIT = re.compile(rf"{LIST_JOINER}|\s+", _I)


_ORD_LIST = rf"{ORDINAL}(?:{LIST_JOINER}(?:the\s+)?{ORDINAL})*"
_NTH_ITEM = rf"(?:{DAY_OF_MONTH}(?:st|nd|rd|th)|first)"
_NTH_LIST = rf"{_NTH_ITEM}(?:{LIST_JOINER}(?:the\s+)?{_NTH_ITEM})*"
_DAY_ITEM = rf"{DAY_OF_MONTH}(?:st|nd|rd|th)?"
_DAY_LIST = rf"{_DAY_ITEM}(?:{LIST_JOINER}(?:the\s+)?{_DAY_ITEM})*"
_RANGE_JOIN = r"\s*(?:-|\u2013|to|through|thru)\s*"
_WD_RANGE = rf"(?P<from>{WEEKDAY_ANY})\b{_RANGE_JOIN}(?P<to>{WEEKDAY_ANY})\b"
_ORDINAL_SPLIT = re.compile(rf"({ORDINAL})", _I)
_ORDINAL_INTERVALS = {"second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6}


def _ordinals(text: str) -> tuple[int, ...]:
    """'2nd and last' -> (2, -1), in the order said, without repeats."""
    found: list[int] = []
    for word in _ORDINAL_SPLIT.findall(text):
        value = ORDINAL_WORDS.get(single_spaced(word.lower()))
        if value is not None and value not in found:
            found.append(value)
    return tuple(found)


def _month_days(text: str) -> tuple[int, ...]:
    days = {1 if w.lower() == "first" else int(w) for w in re.findall(r"\d+|first", text, _I)}
    return tuple(sorted(d for d in days if 1 <= d <= 31))


def _days(text: str) -> tuple[tuple[int, int | None], ...]:
    names = [w.lower().rstrip("s") for w in _WEEKDAY_SPLIT.split(text) if w.strip()]
    found = {WEEKDAYS[n] for n in names if n in WEEKDAYS}
    return tuple((day, None) for day in sorted(found))


def _by_weekdays(m: re.Match[str]) -> Recurrence:
    every = (m.groupdict().get("every") or "").lower()
    interval = 2 if every == "other" else ORDINAL_WORDS.get(every, 1)
    return Recurrence("WEEKLY", interval=interval, weekdays=_days(m.group("days")))


def _nth_weekday(m: re.Match[str]) -> Recurrence | None:
    """Every last friday (of the month), the 2nd and last friday of each month; but
    "every second friday" alone is fortnightly."""
    ordinals = _ordinals(m.group("ords"))
    if not ordinals:
        return None
    if len(ordinals) == 1 and ordinals[0] not in (1, -1) and not m.groupdict().get("of"):
        return None
    day = WEEKDAYS[m.group("wd").lower()]
    return Recurrence("MONTHLY", weekdays=tuple((day, n) for n in ordinals))


def _nth_weekday_of_month(m: re.Match[str]) -> Recurrence | None:
    """Every fourth thursday in november: once a year."""
    ordinals = _ordinals(m.group("ords"))
    day = WEEKDAYS[m.group("wd").lower()]
    if not ordinals:
        return None
    month = MONTHS[m.group("mon").lower()]
    return Recurrence("YEARLY", months=(month,), weekdays=tuple((day, n) for n in ordinals))


def _first_or_last_day(m: re.Match[str]) -> Recurrence:
    return Recurrence("MONTHLY", month_days=(1 if m.group("fl").lower() == "first" else -1,))


def _nth_unit(m: re.Match[str]) -> Recurrence | None:
    """Every 4th day, every third week: an interval, not a day of the month."""
    word = m.group("n").lower()
    count = _ORDINAL_INTERVALS.get(word) or (int(word[:-2]) if word[:-2].isdigit() else None)
    if count is None or not 1 <= count <= MAX_REPEAT:
        return None
    return Recurrence(_UNIT_FREQUENCY[m.group("unit").lower()], interval=count)


def _except_days(m: re.Match[str]) -> Recurrence | None:
    """Every day except sunday; every weekday but friday."""
    base = range(5) if "week" in m.group("unit").lower() else range(7)
    left = [d for d in base if d not in {day for day, _ in _days(m.group("days"))}]
    if not left or len(left) == len(base):
        return None
    return Recurrence("WEEKLY", weekdays=tuple((d, None) for d in left))


def _weekday_range(m: re.Match[str]) -> Recurrence | None:
    """Mon-wed, saturday through tuesday: every day of the range, each week."""
    first, last = WEEKDAYS[m.group("from").lower()], WEEKDAYS[m.group("to").lower()]
    if first == last:
        return None
    span = [(first + i) % 7 for i in range((last - first) % 7 + 1)]
    return Recurrence("WEEKLY", weekdays=tuple((d, None) for d in sorted(span)))


def _per_period(m: re.Match[str]) -> Recurrence | None:
    """Once a week, once a year; twice a year (every 6 months), twice a month."""
    unit, times = m.group("unit").lower(), (m.group("times") or "once").lower()
    if times == "once":
        return Recurrence(_UNIT_FREQUENCY[unit])
    if times == "twice" and unit == "year":
        return Recurrence("MONTHLY", interval=6)
    if times in ("twice", "two times") and unit == "month":
        return Recurrence("WEEKLY", interval=2)
    return None


def _month_day(m: re.Match[str]) -> Recurrence | None:
    days = _month_days(m.group("ds"))
    return Recurrence("MONTHLY", month_days=days) if days else None


def _yearly(m: re.Match[str]) -> Recurrence | None:
    month = MONTHS[m.group("mon").lower()]
    days = _month_days(m.group("ds"))
    if not days or not all(_real_day(month, day) for day in days):
        return None
    return Recurrence("YEARLY", months=(month,), month_days=days)


def _real_day(month: int, day: int) -> bool:
    try:
        date(2000, month, day)  # a leap year: February 29 is real
    except ValueError:
        return False
    return True


def _interval(m: re.Match[str]) -> Recurrence | None:
    word = m.group("n").lower()
    count = 2 if word == "other" else to_number(word)
    if count is None or not 1 <= count <= MAX_REPEAT:
        return None
    return Recurrence(_UNIT_FREQUENCY[m.group("unit").lower()], interval=count)


def _unit(m: re.Match[str]) -> Recurrence:
    unit = m.group("unit").lower()
    if unit == "quarter":
        return Recurrence("MONTHLY", interval=3)
    if unit in PERIOD_TIMES:
        return Recurrence("DAILY", period=unit)
    return Recurrence(_UNIT_FREQUENCY[unit])


_ADVERBS: dict[str, Recurrence] = {
    "daily": Recurrence("DAILY"),
    "nightly": Recurrence("DAILY", period="night"),
    "weekly": Recurrence("WEEKLY"),
    "biweekly": Recurrence("WEEKLY", interval=2),
    "fortnightly": Recurrence("WEEKLY", interval=2),
    "monthly": Recurrence("MONTHLY"),
    "bimonthly": Recurrence("MONTHLY", interval=2),
    "quarterly": Recurrence("MONTHLY", interval=3),
    "yearly": Recurrence("YEARLY"),
    "annually": Recurrence("YEARLY"),
    "everyday": Recurrence("DAILY"),
    "hourly": Recurrence("HOURLY"),
}


def _adverb(m: re.Match[str]) -> Recurrence | None:
    return _ADVERBS.get(m.group("adv").lower().replace("-", ""))


_Builder = Callable[[re.Match[str]], Recurrence | None]
_WEEKDAY_SETS = {"weekday": (0, 1, 2, 3, 4), "weekend": (5, 6)}


def _weekday_set(m: re.Match[str]) -> Recurrence:
    key = "weekend" if "end" in m.group("set").lower() else "weekday"
    every = (m.groupdict().get("every") or "").lower()
    interval = 2 if every in ("other", "second", "2nd") else 1
    return Recurrence(
        "WEEKLY", interval=interval, weekdays=tuple((d, None) for d in _WEEKDAY_SETS[key])
    )


def _last_day(m: re.Match[str]) -> Recurrence:
    return Recurrence("MONTHLY", month_days=(-1,))


_PHRASES: tuple[tuple[re.Pattern[str], _Builder], ...] = tuple(
    (re.compile(pattern, _I), builder)
    for pattern, builder in (
        (
            rf"{_EVERY}(?:the\s+)?(?P<ords>{_ORD_LIST})\s+(?P<wd>{WEEKDAY_ANY})\s+(?:in|of)\s+"
            rf"(?P<mon>{MONTH})\b",
            _nth_weekday_of_month,
        ),
        (
            rf"{_EVERY}(?:the\s+)?(?P<ords>{_ORD_LIST})\s+(?P<wd>{WEEKDAY_ANY})\b(?P<of>{_OF_MONTH})?",
            _nth_weekday,
        ),
        (
            rf"\b(?:on\s+)?(?:the\s+)?(?P<ords>{_ORD_LIST})\s+(?P<wd>{WEEKDAY_ANY})"
            rf"(?P<of>{_OF_EVERY_MONTH})",
            _nth_weekday,
        ),
        (rf"{_EVERY}(?P<fl>first|last)\s+day\b(?:{_OF_MONTH})?", _first_or_last_day),
        (rf"\b(?:on\s+)?(?:the\s+)?(?P<fl>first|last)\s+day{_OF_EVERY_MONTH}", _first_or_last_day),
        (r"\b(?:at\s+)?(?:the\s+)?(?P<fl>end)\s+of\s+(?:each|every)\s+month\b", _last_day),
        (
            rf"{_EVERY}(?P<mon>{MONTH})\s+(?:the\s+)?(?P<ds>{_DAY_LIST})\b",
            _yearly,
        ),
        (
            rf"{_EVERY}(?:the\s+)?(?P<ds>{_DAY_LIST})\s+(?:of\s+)?(?P<mon>{MONTH})\b",
            _yearly,
        ),
        (
            rf"{_EVERY}(?P<n>\d{{1,3}}(?:st|nd|rd|th)|second|third|fourth|fifth|sixth)\s+"
            r"(?P<unit>day|week|month|year)\b(?!\s+of\b)",
            _nth_unit,
        ),
        (rf"{_EVERY}(?:the\s+)?(?P<ds>{_NTH_LIST})(?:\s+day)?\b(?:{_OF_MONTH})?", _month_day),
        (rf"\b(?:on\s+)?(?:the\s+)?(?P<ds>{_NTH_LIST})(?:\s+day)?{_OF_EVERY_MONTH}", _month_day),
        (
            rf"{_EVERY}(?P<unit>day|week\s*day)s?\s+(?:except|but(?:\s+not)?|other\s+than"
            rf"|apart\s+from|besides)\s+(?:on\s+)?(?P<days>{_WD_LIST}|{_WD_PLURALS})",
            _except_days,
        ),
        (
            rf"{_EVERY}(?:(?P<every>other|second|2nd)\s+)?"
            r"(?P<set>week\s*day|work\s*day|business\s+day|weekend)s?\b",
            _weekday_set,
        ),
        (r"\b(?:on\s+)?(?P<set>week\s*days|work\s*days|weekends)\b", _weekday_set),
        (rf"{_EVERY}(?P<n>other|{NUMBER})\s+(?P<unit>hour|day|week|month|year)s?\b", _interval),
        (rf"{_EVERY}(?P<unit>hour|day|week|month|quarter|year|{PERIOD})\b", _unit),
        (rf"{_EVERY}(?:day\s+)?(?:from\s+)?{_WD_RANGE}", _weekday_range),
        (
            rf"{_EVERY}(?:(?P<every>other|second|2nd|third|3rd|fourth|4th)\s+)?(?P<days>{_WD_LIST})",
            _by_weekdays,
        ),
        (rf"\b(?:on\s+)?(?P<days>{_WD_PLURALS})", _by_weekdays),
        (rf"(?:^|(?<=\s))(?:on\s+)?{_WD_RANGE}", _weekday_range),
        (
            r"\b(?:(?P<times>once|twice|two\s+times)\s+)(?:a|per|each|every)\s+"
            r"(?P<unit>day|week|month|year)\b",
            _per_period,
        ),
        (
            r"\b(?P<adv>daily|nightly|weekly|bi-?weekly|fortnightly|monthly|bi-?monthly"
            r"|quarterly|yearly|annually|everyday|hourly)\b",
            _adverb,
        ),
    )
)
_ADVERB_FOLLOWERS = re.compile(
    r"\s*(?:$|[,;.!?#(]|(?:at|on|in|from|starting|until|till|for|by|every|p[1-4])\b|@|\d)", _I
)

_SPECS: dict[Frequency, re.Pattern[str]] = {
    "WEEKLY": re.compile(rf"\s*,?\s*(?:on\s+)?(?:every\s+)?(?P<days>{_WD_LIST}|{_WD_PLURALS})", _I),
    "MONTHLY": re.compile(
        rf"\s*,?\s*(?:on\s+)?the\s+(?:(?P<ord>{ORDINAL})\s+(?P<wd>{WEEKDAY_ANY})\b"
        r"(?:\s+of\s+the\s+month\b)?|(?P<last>last)\s+day\b"
        rf"|(?P<ds>{DAY_OF_MONTH}(?:st|nd|rd|th)?\b"
        rf"(?:{LIST_JOINER}(?:the\s+)?{DAY_OF_MONTH}(?:st|nd|rd|th)?\b)*)(?:\s+day\b)?)",
        _I,
    ),
    "YEARLY": re.compile(
        rf"\s*,?\s*(?:(?:on\s+)?(?:the\s+)?(?P<mon>{MONTH})\s+(?:the\s+)?"
        rf"(?P<d>{DAY_OF_MONTH})(?:st|nd|rd|th)?\b"
        rf"|(?:on\s+)?(?:the\s+)?(?P<d2>{DAY_OF_MONTH})(?:st|nd|rd|th)?\s+(?:of\s+)?"
        rf"(?P<mon2>{MONTH})\b|in\s+(?P<mon3>{MONTH})\b)",
        _I,
    ),
}
_PERIOD_TAIL = re.compile(rf"\s+(?:in\s+the\s+|at\s+)?(?P<period>{PERIOD})\b", _I)
_NUMBERS_IN_LIST = re.compile(r"\d+")


def _apply_spec(rec: Recurrence, m: re.Match[str]) -> Recurrence:
    g = m.groupdict()
    if rec.freq == "WEEKLY":
        return replace(rec, weekdays=_days(g["days"]))
    if rec.freq == "MONTHLY":
        if g["ord"]:
            ordinal = ORDINAL_WORDS[g["ord"].lower()]
            return replace(rec, weekdays=((WEEKDAYS[g["wd"].lower()], ordinal),))
        if g["last"]:
            return replace(rec, month_days=(-1,))
        days = sorted({int(d) for d in _NUMBERS_IN_LIST.findall(g["ds"])})
        return replace(rec, month_days=tuple(days))
    month = MONTHS[(g["mon"] or g["mon2"] or g["mon3"]).lower()]
    day = g["d"] or g["d2"]
    return replace(rec, months=(month,), month_days=(int(day),) if day else ())


def _phrase_end(rec: Recurrence, text: str, end: int) -> tuple[Recurrence, int]:
    """Extend a phrase with its details: "every week" + " on monday", + " morning"."""
    spec = _SPECS.get(rec.freq)
    if spec is not None and not (rec.weekdays or rec.month_days):
        m = spec.match(text, end)
        if m is not None:
            rec, end = _apply_spec(rec, m), m.end()
    tail = _PERIOD_TAIL.match(text, end)
    if tail is not None and rec.period is None:
        rec, end = replace(rec, period=tail.group("period").lower()), tail.end()
    return rec, end


def _adverb_fits(text: str, m: re.Match[str]) -> bool:
    """'water the plants daily' repeats; 'daily standup' or 'weekly review' is a name."""
    if "adv" not in m.groupdict():
        return True
    return m.start() > 0 and _ADVERB_FOLLOWERS.match(text, m.end()) is not None


_ANY_PHRASE = WordFinder(pattern for pattern, _ in _PHRASES)


def _find_phrase(text: str) -> tuple[Recurrence, int, int] | None:
    """The first phrase, in the order `_PHRASES` lists them, that reads as a repeat."""
    earliest = _ANY_PHRASE.search(text)
    if earliest is None:  # most sentences do not repeat: one scan says so
        return None
    for pattern, builder in _PHRASES:
        for m in pattern.finditer(text, earliest):
            rec = builder(m) if _adverb_fits(text, m) else None
            if rec is not None:
                rec, end = _phrase_end(rec, text, m.end())
                return rec, m.start(), end
    return None


# --- limits: "until D", "N times", "for N weeks", "starting D" --------------------------

_UNTIL = re.compile(r"\b(?:until|till|til|through|thru|up\s+to|ending(?:\s+on)?|ends?\s+on)\s+", _I)
_START = re.compile(
    r"\b(?:starting|beginning|from|effective|as\s+of)(?:\s+(?:on|from|with))?\s+", _I
)
_COUNT = re.compile(
    rf"\b(?:for\s+)?(?:a\s+total\s+of\s+)?(?:(?P<n>{NUMBER})\s+(?:more\s+)?"
    r"(?:times|occurrences|sessions|repetitions)\b|(?P<nx>\d{1,3})\s*x\b"
    r"|(?P<word>twice|thrice))",
    _I,
)
_COUNT_WORDS = {"twice": 2, "thrice": 3}
_LASTING = re.compile(
    rf"\bfor\s+(?:the\s+next\s+)?(?P<n>{NUMBER})\s+(?P<unit>day|week|month|year)s?\b", _I
)


_MONTH_ALONE = re.compile(
    rf"(?:in\s+|the\s+start\s+of\s+|the\s+end\s+of\s+)?(?P<mon>{MONTH})\b\.?"
    r"(?:,?\s+(?P<y>\d{4}))?(?!\s*\d)",
    _I,
)
_RANGE_TO = re.compile(r"\s*(?:to|until|till|through|thru|-|\u2013)\s*", _I)


def _month_at(text: str, pos: int, clock: Clock, *, last: bool) -> tuple[date, int] | None:
    """A month named alone ("may", "in may", "november 2027"): its first day, or with
    `last` its last day; the next such month, this one included."""
    m = _MONTH_ALONE.match(text, pos)
    if m is None:
        return None
    month = MONTHS[m.group("mon").lower()]
    today = clock.today
    year = int(m.group("y")) if m.group("y") else today.year + (month < today.month)
    first = date(year, month, 1)
    if not last:
        return first, m.end()
    return first + relativedelta(months=1) - timedelta(days=1), m.end()


def _bound_at(text: str, pos: int, clock: Clock, *, last: bool) -> tuple[date, int] | None:
    """A day ("june 1", "next tuesday") or a month alone, right at `pos`."""
    found = match_day_at(text, pos, clock)
    if found is not None:
        return found[0].day, found[1]
    return _month_at(text, pos, clock, last=last)


def _day_after(
    pattern: re.Pattern[str], text: str, clock: Clock, *, until: bool = False
) -> tuple[date, str] | None:
    """The day named right after a keyword ("until june 1", "starting in may"), and the
    text without both. "Until <month>" ends before that month, "through <month>" with it."""
    for m in pattern.finditer(text):
        through = until and m.group(0).lower().startswith(("through", "thru"))
        found = _bound_at(text, m.end(), clock, last=through)
        if found is None:
            continue
        day, end = found
        if until and not through and _MONTH_ALONE.match(text, m.end()):
            day -= timedelta(days=1)  # "until november": the last day before it
        return day, cut_span(text, m.start(), end)
    return None


_FROM = re.compile(r"\b(?:from|between)\s+", _I)


def _span(text: str, clock: Clock) -> tuple[date, date, str] | None:
    """From jan 1 to march 25, between may and september."""
    for m in _FROM.finditer(text):
        start = _bound_at(text, m.end(), clock, last=False)
        if start is None:
            continue
        joint = _RANGE_TO.match(text, start[1]) or re.compile(r"\s+and\s+", _I).match(
            text, start[1]
        )
        if joint is None:
            continue
        end = _bound_at(text, joint.end(), clock, last=True)
        if end is None or end[0] < start[0]:
            continue
        return start[0], end[0], cut_span(text, m.start(), end[1])
    return None


def _count(pattern: re.Pattern[str], text: str) -> tuple[re.Match[str], int] | None:
    m = pattern.search(text)
    if m is None:
        return None
    g = m.groupdict()
    if g.get("word"):
        number: int | None = _COUNT_WORDS[g["word"].lower()]
    else:
        number = to_number(g.get("nx") or g["n"])
    if number is None or not 1 <= number <= MAX_REPEAT:
        return None
    return m, number


def _extract_limits(rec: Recurrence, text: str, clock: Clock) -> tuple[Recurrence, str]:
    if (span := _span(text, clock)) is not None:
        rec, text = replace(rec, start=span[0], until=span[1]), span[2]
    if rec.until is None and (until := _day_after(_UNTIL, text, clock, until=True)) is not None:
        rec, text = replace(rec, until=until[0]), until[1]
    if rec.start is None and (start := _day_after(_START, text, clock)) is not None:
        rec, text = replace(rec, start=start[0]), start[1]
    if (times := _count(_COUNT, text)) is not None:
        rec, text = replace(rec, count=times[1]), cut_span(text, times[0].start(), times[0].end())
    if (lasting := _count(_LASTING, text)) is not None:
        m, number = lasting
        rec = replace(rec, lasting=(number, m.group("unit").lower()))
        text = cut_span(text, m.start(), m.end())
    return rec, text


def extract_recurrence(text: str, clock: Clock) -> tuple[Recurrence | None, str]:
    """The repeat phrase of `text` with its limits, and the text without them."""
    found = _find_phrase(text)
    if found is None:
        return None, text
    rec, start, end = found
    return _extract_limits(rec, cut_span(text, start, end), clock)
