"""VTIMEZONE components written the way calendar clients write them: one
STANDARD or DAYLIGHT observance per rule, repeating by RRULE (RFC 5545
§3.6.5), the last rule of each kind open-ended so it holds for as long as the
zone's current rules do.

The rules are derived from the zone's transitions as `zoneinfo` gives them:
each onset is described by its month and by a weekday rule ("last Sunday",
"second Sunday", "Friday on or after the 23rd") or a fixed day, and runs of
years that share a rule become one RRULE. Before it is used, the result is
checked: its expansion must give exactly the zone's transitions, and go on
giving them for `CHECK_YEARS` past the span it was derived from; where it
would not, the span grows until it does.
"""

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

# How far past the derived span the open-ended rules must keep matching.
CHECK_YEARS = 40
LAST_YEAR = 2400
_DAY = timedelta(days=1)
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

# (offset, dst, name): what a transition changes.
_State = tuple[timedelta, bool, str]


@dataclass(frozen=True, slots=True)
class _Transition:
    at: datetime  # UTC
    before: _State
    after: _State

    @property
    def onset(self) -> datetime:
        """The local wall time of the change, on the clock before it."""
        return (self.at + self.before[0]).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class _Observance:
    state: _State
    offset_from: timedelta
    start: datetime  # local wall time on the clock before the onset
    rule: str | None  # RRULE, without UNTIL
    until: datetime | None  # UTC, after the last onset, when the rule ends


def _state(tz: ZoneInfo, at: datetime) -> _State:
    local = at.astimezone(tz)
    offset, dst = local.utcoffset(), local.dst()
    assert offset is not None
    return offset, bool(dst), local.tzname() or ""


def _transitions(tz: ZoneInfo, start: datetime, end: datetime) -> list[_Transition]:
    """Every change of offset, DST or name in [start, end), to the second."""
    found = []
    at, state = start, _state(tz, start)
    while at < end:
        step = min(at + _DAY, end)
        then = _state(tz, step)
        if then != state:
            low, high = at, step  # state at low, changed at high
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if _state(tz, middle) == state:
                    low = middle
                else:
                    high = middle
            found.append(_Transition(high, state, _state(tz, high)))
            at, state = high, _state(tz, high)
            continue
        at = step
    return found


def _forms(day: date) -> set[tuple[str, int, int]]:
    """The ways a rule can name this day of its month."""
    weekday = day.weekday()
    length = calendar.monthrange(day.year, day.month)[1]
    forms = {("date", day.day, 0), ("nth", weekday, (day.day - 1) // 7 + 1)}
    if day.day + 7 > length:
        forms.add(("last", weekday, 0))
    for first in range(max(1, day.day - 6), day.day + 1):
        if first + 6 <= length:
            forms.add(("from", weekday, first))
    return forms


_PREFERENCE = {"last": 0, "nth": 1, "date": 2, "from": 3}


def _rrule(month: int, forms: set[tuple[str, int, int]]) -> str:
    kind, a, b = min(forms, key=lambda f: (_PREFERENCE[f[0]], f[2]))
    base = f"FREQ=YEARLY;BYMONTH={month}"
    if kind == "last":
        return f"{base};BYDAY=-1{_WEEKDAYS[a]}"
    if kind == "nth":
        return f"{base};BYDAY={b}{_WEEKDAYS[a]}"
    if kind == "date":
        return f"{base};BYMONTHDAY={a}"
    days = ",".join(str(d) for d in range(b, b + 7))
    return f"{base};BYDAY={_WEEKDAYS[a]};BYMONTHDAY={days}"


def _observances(
    tz: ZoneInfo, start: datetime, end: datetime
) -> tuple[list[_Observance], list[_Transition]]:
    """The observance in force at `start`, then runs of yearly onsets."""
    transitions = _transitions(tz, start, end)
    first = _state(tz, start)
    found = [_Observance(first, first[0], (start + first[0]).replace(tzinfo=None), None, None)]
    keyed: dict[tuple[object, ...], list[_Transition]] = {}
    for t in transitions:
        onset = t.onset
        keyed.setdefault((t.after, t.before[0], onset.month, onset.time()), []).append(t)
    last_year = (end - _DAY).year
    for items in keyed.values():
        for run, forms in _runs(items):
            found.append(_run(run, forms, open_ended=run[-1].onset.year == last_year))
    return found, transitions


def _runs(items: list[_Transition]) -> list[tuple[list[_Transition], set[tuple[str, int, int]]]]:
    """Onsets of one kind split into runs of consecutive years that one
    rule names, with the forms of that rule."""
    runs: list[tuple[list[_Transition], set[tuple[str, int, int]]]] = []
    for item in items:
        mine = _forms(item.onset.date())
        if runs:
            run, forms = runs[-1]
            follows = item.onset.year == run[-1].onset.year + 1
            if follows and forms & mine:
                run.append(item)
                runs[-1] = (run, forms & mine)
                continue
        runs.append(([item], mine))
    return runs


def _run(run: list[_Transition], forms: set[tuple[str, int, int]], open_ended: bool) -> _Observance:
    head = run[0]
    if len(run) == 1 and not open_ended:
        return _Observance(head.after, head.before[0], head.onset, None, None)
    rule = _rrule(head.onset.month, forms)
    # UNTIL a day after the last onset (the next would be a year later):
    # the same set, also for readers that take UNTIL as a wall time
    # (dateutil's tzical does), where the exact instant would drop the last.
    return _Observance(
        head.after, head.before[0], head.onset, rule, None if open_ended else run[-1].at + _DAY
    )


def _expand(observances: list[_Observance], end: datetime) -> list[tuple[datetime, _State]]:
    """The onsets these observances give before `end` (UTC), as a client
    would read them, the first (the starting observance) left out."""
    found = []
    for o in observances[1:]:
        onsets = [o.start]
        if o.rule is not None:
            text = o.rule
            if o.until is not None:
                wall_until = (o.until + o.offset_from).replace(tzinfo=None)
                text += ";UNTIL=" + wall_until.strftime("%Y%m%dT%H%M%S")
            onsets = list(
                rrulestr(text, dtstart=o.start).between(
                    o.start, (end + o.offset_from).replace(tzinfo=None), inc=True
                )
            )
        for onset in onsets:
            at = (onset - o.offset_from).replace(tzinfo=UTC)
            if at < end:
                found.append((at, o.state))
    return sorted(found)


@lru_cache(maxsize=256)
def _checked(key: str, first_year: int, last_year: int) -> tuple[_Observance, ...]:
    tz = ZoneInfo(key)
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    while True:
        end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
        observances, _ = _observances(tz, start, end)
        horizon = datetime(min(last_year + 1 + CHECK_YEARS, LAST_YEAR), 1, 1, tzinfo=UTC)
        expected = [(t.at, t.after) for t in _transitions(tz, start, horizon)]
        given = _expand(observances, horizon)
        if given == expected or last_year >= LAST_YEAR:
            return tuple(observances)
        # The rules changed (or were irregular) after the span: widen it
        # to the first disagreement and derive again.
        wrong = next(
            (e[0] for e, g in zip(expected, given, strict=False) if e != g),
            min(expected[-1][0] if expected else horizon, given[-1][0] if given else horizon),
        )
        last_year = max(wrong.year + 2, last_year + 20)


def vtimezone(key: str, first: datetime, last: datetime) -> Timezone:
    """A VTIMEZONE for `key` that holds from the year before `first` on;
    its rules are derived at least up to `last`."""
    observances = _checked(key, first.year - 1, max(last.year, first.year) + 1)
    component = Timezone()
    component.add("tzid", key)
    for o in observances:
        sub = TimezoneDaylight() if o.state[1] else TimezoneStandard()
        sub.add("dtstart", o.start)
        if o.rule is not None:
            rule = vRecur.from_ical(o.rule)
            if o.until is not None:
                rule["UNTIL"] = [o.until]
            sub.add("rrule", rule)
        sub.add("tzoffsetfrom", o.offset_from)
        sub.add("tzoffsetto", o.state[0])
        if o.state[2]:
            sub.add("tzname", o.state[2])
        component.add_component(sub)
    return component


__all__ = ["vtimezone"]
