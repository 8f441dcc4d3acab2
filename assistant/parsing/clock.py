"""The present moment in the user's zone, and DST-correct wall-clock conversions."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Zones whose people write 12/05 for December 5 (elsewhere it is 12 May).
_MONTH_FIRST_ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Phoenix", "America/Anchorage", "America/Detroit", "America/Indiana/",
    "America/Kentucky/", "America/North_Dakota/", "America/Boise", "America/Juneau",
    "America/Sitka", "America/Nome", "America/Adak", "America/Menominee",
    "America/Metlakatla", "America/Yakutat", "America/Puerto_Rico", "Pacific/Honolulu",
    "US/", "Asia/Manila",
)  # fmt: skip


def load_zone(tz: str) -> ZoneInfo:
    """The IANA zone `tz`; a clear ValueError when there is no such zone."""
    if not isinstance(tz, str) or not tz.strip():
        raise ValueError("time zone is empty: expected an IANA name such as 'Europe/Berlin'")
    return _zone(tz.strip())


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    """ZoneInfo keeps its own cache; this one also skips its lookup (and failures are
    not cached, so a zone installed later is found)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}: expected an IANA name such as 'Europe/Berlin'"
        ) from exc


@dataclass(frozen=True, slots=True)
class Clock:
    """`now` is the naive wall-clock time in `zone`."""

    now: datetime
    zone: ZoneInfo

    @classmethod
    def create(cls, now: datetime, tz: str) -> "Clock":
        zone = load_zone(tz)
        if now.tzinfo is not None:
            now = now.astimezone(zone).replace(tzinfo=None)
        return cls(now=now, zone=zone)

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def month_first(self) -> bool:
        """Whether a numeric date like 12/05 puts the month first in this zone."""
        return self.zone.key.startswith(_MONTH_FIRST_ZONES)

    def localize(self, wall: datetime) -> datetime:
        """The instant a wall-clock time names in the zone, with that day's offset.

        A time skipped by a DST change is moved forward, as clocks do.
        """
        aware = wall.replace(tzinfo=self.zone)
        return aware.astimezone(UTC).astimezone(self.zone)

    def at(self, day: date, clock_time: time) -> datetime:
        return self.localize(datetime.combine(day, clock_time))

    def after(self, delta: timedelta) -> datetime:
        """The instant `delta` of real time from now (not wall-clock arithmetic)."""
        start = self.localize(self.now).astimezone(UTC)
        return (start + delta).astimezone(self.zone)

    def next_wall_time(self, clock_time: time) -> datetime:
        """The first wall-clock `clock_time` at or after now (naive)."""
        candidate = datetime.combine(self.today, clock_time)
        if candidate < self.now.replace(second=0, microsecond=0):
            candidate = datetime.combine(self.today + timedelta(days=1), clock_time)
        return candidate

    def utc_stamp(self, wall: datetime) -> str:
        """`wall` as an RFC 5545 UTC date-time, e.g. 20280101T045959Z."""
        return self.localize(wall).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
