"""A time zone named in a sentence: "9am Tokyo time", "3pm CET", "noon ET".

The time is then read on the wall clock of that zone instead of the user's:
"call the Tokyo office at 9am Tokyo time tomorrow" said in New York is due at
09:00 in Tokyo on the day New York calls tomorrow.
"""

import re
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache

from assistant.parsing.text import single_spaced

_I = re.IGNORECASE
# Abbreviations people write after a time. Those with their own DST words (EST/EDT)
# are fixed offsets; the bare regional ones (ET, PT) follow the region's clock.
_ABBREVIATIONS: dict[str, tzinfo] = {
    **{
        name: timezone(timedelta(hours=hours), name.upper())
        for name, hours in (
            ("utc", 0), ("gmt", 0), ("wet", 0), ("west", 1), ("bst", 1), ("cet", 1),
            ("cest", 2), ("eet", 2), ("eest", 3), ("msk", 3), ("ist", 5.5), ("sgt", 8),
            ("hkt", 8), ("jst", 9), ("kst", 9), ("aest", 10), ("aedt", 11), ("nzst", 12),
            ("nzdt", 13), ("est", -5), ("edt", -4), ("cst", -6), ("cdt", -5), ("mst", -7),
            ("mdt", -6), ("pst", -8), ("pdt", -7), ("akst", -9), ("akdt", -8), ("hst", -10),
        )
    },
    **{
        name: zoneinfo.ZoneInfo(key)
        for name, key in (
            ("et", "America/New_York"), ("ct", "America/Chicago"), ("mt", "America/Denver"),
            ("pt", "America/Los_Angeles"),
        )
    },
}  # fmt: skip
_ABBREVIATION = re.compile(
    r"(?<=[\dmn])\s*\b(?P<abbr>" + "|".join(sorted(_ABBREVIATIONS, key=len, reverse=True)) + r")\b",
    _I,
)
_NAMED = re.compile(r"\b(?:in\s+)?(?P<place>(?:[a-z]+\s+){0,2}?[a-z]+)\s+time\b", _I)


@cache
def _places() -> dict[str, str]:
    """City (or zone) names, lower case, to IANA keys; names two zones share are left out."""
    found: dict[str, str | None] = {}
    for key in zoneinfo.available_timezones():
        if "/" not in key or key.startswith(("Etc/", "SystemV/", "US/")):
            continue
        place = key.rsplit("/", 1)[1].replace("_", " ").lower()
        found[place] = None if place in found and found[place] != key else key
    return {place: key for place, key in found.items() if key is not None}


def extract_zone(text: str) -> tuple[tzinfo | None, str]:
    """The zone a sentence names for its time, and the sentence without it."""
    says_time = not text.isascii() or "time" in text.lower()  # what _NAMED needs, cheaply
    for m in _NAMED.finditer(text) if says_time else ():
        words = m.group("place").lower().split()
        for start in range(len(words)):  # "the tokyo time": try "the tokyo", then "tokyo"
            key = _places().get(" ".join(words[start:]))
            if key is not None:
                cut_from = m.start("place") + len(" ".join(m.group("place").split()[:start]))
                if start == 0:
                    cut_from = m.start()
                return zoneinfo.ZoneInfo(key), _cut(text, cut_from, m.end())
    abbreviation = _ABBREVIATION.search(text)
    if abbreviation is not None:
        zone = _ABBREVIATIONS[abbreviation.group("abbr").lower()]
        return zone, _cut(text, abbreviation.start(), abbreviation.end())
    return None, text


def on_wall_clock_of(moment: datetime, zone: tzinfo) -> datetime:
    """The same wall-clock time as `moment`, in `zone` (a skipped time moves forward)."""
    wall = moment.replace(tzinfo=zone)
    return wall.astimezone(UTC).astimezone(zone)


def _cut(text: str, start: int, end: int) -> str:
    return single_spaced(f"{text[:start]} {text[end:]}")


__all__ = ["extract_zone", "on_wall_clock_of"]
