"""When something is due: a day (see `days`), a time of day ("at 5pm", "noon",
"in the evening") or an instant ("in 2 hours").

`extract_when` finds at most one of each in a text and returns them with the text
that is left once they are cut out.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from assistant.parsing.clock import Clock
from assistant.parsing.days import extract_day
from assistant.parsing.lexicon import NAMED_TIMES, NUMBER, PERIOD, PERIOD_TIMES
from assistant.parsing.text import cut, to_number

_I = re.IGNORECASE


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
_NAMED_TIME = re.compile(rf"{_AT}\b(?P<named>noon|midday|midnight|lunch\s*time)\b", _I)
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
        return _TimeHit(NAMED_TIMES["".join(groups["named"].lower().split())], False)
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


_CLOCK_TIMES = (_TWELVE_HOUR, _TWENTY_FOUR_HOUR, _NAMED_TIME, _BARE_HOUR)
_DIGIT = re.compile(r"\d")


def _extract_clock_time(text: str) -> tuple[_TimeHit | None, str]:
    # Only a named time ("noon") is written without a digit.
    patterns = _CLOCK_TIMES if _DIGIT.search(text) else (_NAMED_TIME,)
    matches = [m for pattern in patterns if (m := pattern.search(text)) is not None]
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
    day_hit, rest = extract_day(text, clock)
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
