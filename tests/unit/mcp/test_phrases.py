"""Times in words, computed against now in the zone the time belongs to."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from mcp_server import phrases

NEW_YORK = ZoneInfo("America/New_York")
# Wednesday 4 March 2026, 10:00 in New York.
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=NEW_YORK)


def at(text: str, zone: ZoneInfo = NEW_YORK) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-03-04T17:00", "today 17:00"),
        ("2026-03-05T09:30", "tomorrow 09:30"),
        ("2026-03-03T08:00", "yesterday 08:00"),
        ("2026-03-06T12:00", "Friday 12:00"),
        ("2026-03-10T12:00", "Tuesday 12:00"),
        ("2026-03-11T12:00", "Wed 11 Mar 12:00"),
        ("2026-02-20T12:00", "Fri 20 Feb 12:00"),
        ("2027-01-04T12:00", "Mon 4 Jan 2027 12:00"),
    ],
)
def test_when_names_the_day_as_a_person_would(moment: str, expected: str) -> None:
    assert phrases.when(at(moment), NOW, NEW_YORK) == expected


def test_the_day_is_the_day_in_the_zone_not_in_utc() -> None:
    # 23:30 in New York is already tomorrow in UTC; it is still today here.
    late = at("2026-03-04T23:30")
    assert late.astimezone(UTC).day == 5
    assert phrases.when(late, NOW, NEW_YORK) == "today 23:30"
    # At 09:00 in New York it is 23:00 in Tokyo, where 23:30 New York is tomorrow.
    tokyo = ZoneInfo("Asia/Tokyo")
    assert phrases.when(late, at("2026-03-04T09:00"), tokyo) == "tomorrow 13:30"


def test_a_due_date_without_a_time_reads_as_a_day() -> None:
    assert phrases.due(at("2026-03-05T23:59"), NOW, NEW_YORK, done=False) == "tomorrow"
    assert phrases.when(at("2026-03-05T23:59"), NOW, NEW_YORK) == "tomorrow 23:59"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-03-04T09:00", "overdue (today 09:00)"),
        ("2026-03-03T17:00", "overdue 1 day (yesterday 17:00)"),
        ("2026-03-02T23:59", "overdue 2 days (Mon 2 Mar)"),
        ("2026-03-04T10:30", "today 10:30"),
    ],
)
def test_an_open_task_past_its_due_time_is_overdue(moment: str, expected: str) -> None:
    assert phrases.due(at(moment), NOW, NEW_YORK, done=False) == expected


def test_a_completed_task_is_never_overdue() -> None:
    assert phrases.due(at("2026-03-03T17:00"), NOW, NEW_YORK, done=True) == "yesterday 17:00"


def test_across_a_dst_change_the_wall_clock_is_what_counts() -> None:
    # Clocks go forward on 8 March 2026 in New York.
    before = datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK)
    after = at("2026-03-08T09:00")
    assert phrases.when(after, before, NEW_YORK) == "tomorrow 09:00"
