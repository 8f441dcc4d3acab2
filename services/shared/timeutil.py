"""Wall-clock times in a task's IANA zone, stored as UTC instants."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError

from services.errors import InvalidInput

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
# A due date without a time of day means the end of that day.
DUE_TIME_OF_DAY = time(23, 59)
REMINDER_TIME_OF_DAY = time(9, 0)


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone called `name`, or an InvalidInput that says what to send."""
    if not name or len(name) > 64 or name != name.strip() or ".." in name:
        raise InvalidInput(field, f"{name!r} is not an IANA timezone name like Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            field, f"unknown timezone {name!r}: use an IANA name like America/New_York"
        ) from None


def is_known_zone(name: str) -> bool:
    return name in available_timezones() or name == "UTC"


def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """Attach `tz` to a wall-clock time, as RFC 5545 reads local times.

    A time that occurs twice (clocks go back) is the first one; a time that
    does not exist (clocks go forward) is read with the offset before the gap,
    so 02:30 on a spring-forward day becomes 03:30.
    """
    aware = wall.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC).astimezone(tz)


def to_instant(
    value: datetime | date, tz: ZoneInfo, *, field: str, default_time: time = DUE_TIME_OF_DAY
) -> datetime:
    """A UTC instant from what a client sent: an aware datetime, a naive one
    (wall-clock in the task's zone) or a date (at `default_time` that day)."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, default_time)
    try:
        instant = (localize(value, tz) if value.tzinfo is None else value).astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(field, "the date is out of range") from None
    if not EARLIEST <= instant < LATEST:
        raise InvalidInput(field, "must be between 1970 and 2199")
    return instant


def in_zone(instant: datetime | None, tz: ZoneInfo) -> datetime | None:
    return None if instant is None else instant.astimezone(tz)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in `tz`, as UTC instants."""
    start = localize(datetime.combine(day, time()), tz)
    end = localize(datetime.combine(day + timedelta(days=1), time()), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


# How an account has clock times written: its reader's locale decides ("auto"),
# or always "12h" ("5:00 PM") or always "24h" ("17:00").
TimeFormat = Literal["auto", "12h", "24h"]
HourCycle = Literal["12h", "24h"]


def _languages(accept_language: str) -> list[str]:
    """The language tags of an Accept-Language header, most wanted first."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and tag != "*" and weight > 0:
            ranked.append((-weight, position, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def locale_hour_cycle(accept_language: str | None) -> HourCycle:
    """How the reader's first known language writes the time of day (CLDR's
    short time pattern); 24-hour when no language is known."""
    for tag in _languages(accept_language or ""):
        try:
            pattern = Locale.parse(tag, sep="-").time_formats["short"].pattern
        except (UnknownLocaleError, ValueError, TypeError, KeyError):
            continue
        return "12h" if "h" in pattern or "K" in pattern else "24h"
    return "24h"


def hour_cycle(time_format: str, accept_language: str | None = None) -> HourCycle:
    """The account's choice, or for "auto" the reader's locale's."""
    if time_format == "12h":
        return "12h"
    if time_format == "24h":
        return "24h"
    return locale_hour_cycle(accept_language)


def clock(moment: datetime, cycle: str) -> str:
    """The time of day of a local datetime: "17:05", or "5:05 PM" in 12-hour."""
    if cycle == "12h":
        hour = moment.hour % 12 or 12
        return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"
    return f"{moment:%H:%M}"
