"""The feed's VTIMEZONEs, read by two parsers that trust them rather than a
zone database of their own: ical.js (run with node) and vobject (whose zones
come from the VTIMEZONE through dateutil). Ten years of occurrences of
series near the DST changes of three zones must fall on the same UTC instants
as the recurrence preview says; and a to-do never has DUE equal to DTSTART."""

import io
import json
import shutil
import subprocess
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import vobject
from dateutil.tz import tzical
from icalendar import Calendar

from services.portability.vtimezone import vtimezone
from tests.conftest import MakeUser, User
from tests.integration.portability.conftest import feed_url, instants

ROOT = Path(__file__).resolve().parents[3]
ICAL_JS = ROOT / "web" / "node_modules" / "ical.js" / "dist" / "ical.js"
EXPAND = Path(__file__).with_name("expand_ical.mjs")
YEARS = 10

# (local time, rule) per zone. The first ones fall on the days the clocks
# change, just before and just after the hour that is skipped or repeated.
SERIES = {
    # Clocks change on the last Sundays of March and October, 02:00-03:00.
    "Europe/Berlin": [
        ("2027-03-28T01:59:00", "FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU"),
        ("2027-03-28T03:00:00", "FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU"),
        ("2027-01-03T03:00:00", "FREQ=WEEKLY;INTERVAL=6"),
        ("2027-03-28T02:30:00", "FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU"),  # missing, then twice
    ],
    # Second Sunday of March (02:00-03:00 skipped), first Sunday of November
    # (01:00-02:00 repeated).
    "America/New_York": [
        ("2027-03-07T00:59:00", "FREQ=YEARLY;BYMONTH=3,11;BYDAY=1SU,2SU"),
        ("2027-03-07T03:00:00", "FREQ=YEARLY;BYMONTH=3,11;BYDAY=1SU,2SU"),
        ("2027-01-03T03:00:00", "FREQ=WEEKLY;INTERVAL=6"),
        ("2027-03-07T01:30:00", "FREQ=YEARLY;BYMONTH=3,11;BYDAY=1SU,2SU"),  # twice in November
        ("2027-03-14T02:30:00", "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"),  # never exists
    ],
    # First Sunday of April (02:00-03:00 repeated), of October (skipped).
    "Australia/Sydney": [
        ("2027-04-04T01:59:00", "FREQ=YEARLY;BYMONTH=4,10;BYDAY=1SU"),
        ("2027-04-04T03:00:00", "FREQ=YEARLY;BYMONTH=4,10;BYDAY=1SU"),
        ("2027-01-03T03:00:00", "FREQ=WEEKLY;INTERVAL=6"),
        ("2027-04-04T02:30:00", "FREQ=YEARLY;BYMONTH=4,10;BYDAY=1SU"),
    ],
}


def readings(wall: datetime, zone: ZoneInfo) -> set[datetime]:
    """The instants a wall-clock time can mean: one, or two when the clocks
    skip it or show it twice."""
    return {wall.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)}


def check(theirs: list[datetime], ours: list[datetime], zone: ZoneInfo, time_of_day: time) -> int:
    """Every occurrence on the same instant, except that a wall time the
    clocks skip or repeat may be read either way (clients differ: RFC 5545
    wants the offset before a gap and the first of two; ical.js and
    dateutil read a skipped time with the offset after it). Gives how many
    were such times."""
    assert len(theirs) == len(ours)
    either = 0
    for mine, other in zip(ours, theirs, strict=True):
        wall = datetime.combine(mine.astimezone(zone).date(), time_of_day)
        meanings = readings(wall, zone)
        if other == mine:
            continue
        assert len(meanings) == 2, (wall, other, mine)
        assert {other, mine} <= meanings, (wall, other, mine)
        either += 1
    return either


async def preview(user: User, rule: str, start: str, timezone: str) -> list[datetime]:
    response = await user.post(
        "/api/recurrence/preview",
        json={"rule": rule, "start": start, "timezone": timezone, "count": 100},
    )
    assert response.status_code == 200, response.text
    return instants(response.json()["occurrences"])


def ical_js(feed: bytes, until: datetime) -> dict[str, list[datetime]]:
    node = shutil.which("node")
    assert node is not None, "node is needed to run ical.js"
    assert ICAL_JS.exists(), "run npm install in web/ (ical.js is a dev dependency)"
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [node, str(EXPAND), str(ICAL_JS), until.isoformat()],
        input=feed,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return {uid: instants(values) for uid, values in json.loads(done.stdout).items()}


def vobject_expand(feed: bytes, until: datetime) -> dict[str, list[datetime]]:
    calendar = vobject.readOne(feed.decode())
    found: dict[str, list[datetime]] = {}
    for component in calendar.getChildren():
        if component.name not in ("VTODO", "VEVENT") or "rrule" not in component.contents:
            continue
        start = component.dtstart.value
        # The zone is the one read from the feed's VTIMEZONE, not a database's.
        assert type(start.tzinfo).__module__ == "dateutil.tz.tz", type(start.tzinfo)
        assert not hasattr(start.tzinfo, "key")
        times = component.getrruleset(addRDate=True).between(start, until, inc=True)
        found[component.uid.value] = [t.astimezone(UTC) for t in times]
    return found


async def test_ten_years_of_occurrences_match_in_two_parsers(
    make_user: MakeUser, client: httpx.AsyncClient
) -> None:
    user = await make_user(timezone="Europe/Berlin")
    expected: dict[str, list[datetime]] = {}
    walls: dict[str, tuple[ZoneInfo, time]] = {}
    first = datetime(2027, 1, 1, tzinfo=UTC)
    until = first + timedelta(days=365 * YEARS + 2)
    for timezone, series in SERIES.items():
        for due, rule in series:
            task = await user.add(title=rule, due_at=due, timezone=timezone, recurrence_rule=rule)
            ours = await preview(user, rule, due, timezone)
            assert ours[-1] > until or len(ours) < 100, "the preview must cover the ten years"
            uid = f"{task['series_id']}@todo-app"
            expected[uid] = [t for t in ours if t <= until]
            walls[uid] = (ZoneInfo(timezone), datetime.fromisoformat(due).time())
    feed = (await client.get(await feed_url(user))).content

    by_ical_js = ical_js(feed, until)
    by_vobject = vobject_expand(feed, until)
    either = 0
    for uid, ours in expected.items():
        assert len(ours) >= YEARS
        either += check(by_ical_js[uid], ours, *walls[uid])
        either += check(by_vobject[uid], ours, *walls[uid])
    # The last series of each zone lands on skipped or repeated times, and
    # there the parsers read some of them the other way.
    assert either > 0


@pytest.mark.parametrize(
    "key", ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Jerusalem"]
)
def test_the_zone_is_a_yearly_rule_that_never_ends(key: str) -> None:
    component = vtimezone(key, datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
    text = component.to_ical().decode()
    assert "RDATE" not in text
    rules = [sub["RRULE"].to_ical().decode() for sub in component.subcomponents if "RRULE" in sub]
    assert len(rules) == 2, text
    assert all("UNTIL" not in r for r in rules), text
    # dateutil reads the block on its own: offsets in 2090 are those of zoneinfo.
    parsed = tzical(io.StringIO(text)).get(key)
    zone = ZoneInfo(key)
    for month in range(1, 13):
        for day in (1, 15):
            at = datetime(2090, month, day, 12, tzinfo=UTC)
            assert at.astimezone(parsed).utcoffset() == at.astimezone(zone).utcoffset(), at


def test_a_zone_without_dst_is_one_standard_observance() -> None:
    component = vtimezone(
        "Asia/Tokyo", datetime(2026, 5, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)
    )
    assert [sub.name for sub in component.subcomponents] == ["STANDARD"]
    [standard] = component.subcomponents
    assert standard["TZOFFSETTO"].td == timedelta(hours=9)


async def test_a_todo_never_has_due_equal_to_its_start(
    make_user: MakeUser, client: httpx.AsyncClient
) -> None:
    user = await make_user(timezone="Europe/Berlin")
    single = await user.add(title="Pay rent", due_at="2027-05-01T09:00:00")
    series = await user.add(
        title="Water plants",
        due_at="2027-05-02T08:00:00",
        recurrence_rule="FREQ=WEEKLY",
        remind_at="2027-05-02T07:45:00",
    )
    calendar = Calendar.from_ical((await client.get(await feed_url(user))).content)
    todos = {str(c["UID"]): c for c in calendar.walk("VTODO")}
    for todo in todos.values():
        if "DUE" in todo and "DTSTART" in todo:
            assert todo["DUE"].dt > todo["DTSTART"].dt
    alone = todos[f"{single['id']}@todo-app"]
    assert alone["DUE"].dt == datetime.fromisoformat("2027-05-01T09:00:00+02:00")
    assert "DTSTART" not in alone
    master = todos[f"{series['series_id']}@todo-app"]
    assert master["DTSTART"].dt == datetime.fromisoformat("2027-05-02T08:00:00+02:00")
    assert "RRULE" in master
    [alarm] = master.walk("VALARM")
    # No DUE to be relative to: the reminder counts from the occurrence's start.
    assert alarm["TRIGGER"].params["RELATED"] == "START"
    assert alarm["TRIGGER"].dt == timedelta(minutes=-15)


@pytest.mark.parametrize(
    "key", ["Africa/Casablanca", "America/Nuuk", "Asia/Tehran", "Europe/Dublin", "Pacific/Chatham"]
)
def test_irregular_zones_give_zoneinfo_offsets(key: str) -> None:
    """Zones whose rules changed, that fall back on Fridays or Saturdays
    before a Sunday, or that follow no yearly rule for decades."""
    component = vtimezone(key, datetime(2019, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    parsed = tzical(io.StringIO(component.to_ical().decode())).get(key)
    zone = ZoneInfo(key)
    # Wall-clock times to instants, as a calendar reads them (times the
    # clocks skip or repeat left out: clients choose for those).
    wall = datetime(2019, 1, 1)
    while wall.year < 2100:
        if len(readings(wall, zone)) == 1:
            ours = wall.replace(tzinfo=zone).utcoffset()
            assert wall.replace(tzinfo=parsed).utcoffset() == ours, wall
        wall += timedelta(days=5, hours=7, minutes=13)
