"""Times as a person says them ("tomorrow 17:00", "overdue 2 days").

A model that reads only RFC 3339 instants has to do calendar arithmetic in the
user's zone to answer "what is due tomorrow?", and models get that wrong around
midnight and DST. So every time a tool returns also comes as a phrase computed
here, against now in the zone the time belongs to.
"""

from datetime import datetime, time
from zoneinfo import ZoneInfo

from services.shared.timeutil import DUE_TIME_OF_DAY, clock
from services.tasks.domain.overdue import is_overdue

# A due date given without a time of day is stored at 23:59; saying "tomorrow
# 23:59" would suggest a precision the user never gave.
DATE_ONLY_DUE = DUE_TIME_OF_DAY
_NEAR_DAYS = 6


def _day(day_offset: int, moment: datetime, now: datetime) -> str:
    if day_offset == 0:
        return "today"
    if day_offset == 1:
        return "tomorrow"
    if day_offset == -1:
        return "yesterday"
    if 1 < day_offset <= _NEAR_DAYS:
        return moment.strftime("%A")
    text = f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b')}"
    return text if moment.year == now.year else f"{text} {moment.year}"


def when(
    moment: datetime,
    now: datetime,
    zone: ZoneInfo,
    *,
    hide_time: time | None = None,
    cycle: str = "24h",
) -> str:
    """`moment` relative to `now`, both read in `zone`: "today 09:00",
    "Friday 17:00", "Tue 3 Mar", "Mon 4 Jan 2027"; with `cycle` "12h" the time
    reads "5:00 PM". The time of day is left out when it equals `hide_time`."""
    local = moment.astimezone(zone)
    today = now.astimezone(zone)
    day = _day((local.date() - today.date()).days, local, today)
    if hide_time is not None and local.time().replace(second=0, microsecond=0) == hide_time:
        return day
    return f"{day} {clock(local, cycle)}"


def due(moment: datetime, now: datetime, zone: ZoneInfo, *, done: bool, cycle: str = "24h") -> str:
    """A due time; an open task whose time has passed says how late it is."""
    text = when(moment, now, zone, hide_time=DATE_ONLY_DUE, cycle=cycle)
    if not is_overdue(active=not done, due_at=moment, now=now):
        return text
    late = (now.astimezone(zone).date() - moment.astimezone(zone).date()).days
    if late == 0:
        return f"overdue ({text})"
    return f"overdue {late} day{'s' if late > 1 else ''} ({text})"


__all__ = ["DATE_ONLY_DUE", "due", "when"]
