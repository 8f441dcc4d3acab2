"""Recurrence in the task's zone: DST-correct, RFC 5545 semantics."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from services.errors import InvalidInput
from services.shared.timeutil import localize
from services.tasks.domain.recurrence import Recurrence, parse_rule

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")


def series(rule: str, start: str, tz: ZoneInfo) -> Recurrence:
    return Recurrence(parse_rule(rule), tz, localize(datetime.fromisoformat(start), tz))


def iso(values: list[datetime]) -> list[str]:
    return [v.isoformat() for v in values]


def test_daily_nine_oclock_stays_nine_across_spring_forward_in_new_york() -> None:
    s = series("FREQ=DAILY", "2027-03-13T09:00", NY)
    assert iso(s.upcoming(s.start, 3)) == [
        "2027-03-13T09:00:00-05:00",
        "2027-03-14T09:00:00-04:00",
        "2027-03-15T09:00:00-04:00",
    ]


def test_daily_nine_oclock_stays_nine_across_fall_back_in_berlin() -> None:
    s = series("FREQ=DAILY", "2027-10-30T09:00", BERLIN)
    assert iso(s.upcoming(s.start, 2)) == ["2027-10-30T09:00:00+02:00", "2027-10-31T09:00:00+01:00"]


def test_a_time_in_the_spring_forward_gap_moves_forward_once() -> None:
    s = series("FREQ=DAILY", "2027-03-13T02:30", NY)
    assert iso(s.upcoming(s.start, 3)) == [
        "2027-03-13T02:30:00-05:00",
        "2027-03-14T03:30:00-04:00",
        "2027-03-15T02:30:00-04:00",
    ]


def test_a_repeated_time_at_fall_back_is_the_first_one() -> None:
    s = series("FREQ=DAILY", "2027-11-06T01:30", NY)
    assert iso(s.upcoming(s.start, 2)) == ["2027-11-06T01:30:00-04:00", "2027-11-07T01:30:00-04:00"]


def test_zone_without_dst() -> None:
    s = series("FREQ=WEEKLY;BYDAY=MO", "2027-03-01T07:00", TOKYO)
    assert iso(s.upcoming(s.start, 2)) == ["2027-03-01T07:00:00+09:00", "2027-03-08T07:00:00+09:00"]


def test_monthly_on_the_31st_skips_short_months() -> None:
    s = series("FREQ=MONTHLY;BYMONTHDAY=31", "2027-01-31T10:00", NY)
    assert [d.date().isoformat() for d in s.upcoming(s.start, 4)] == [
        "2027-01-31",
        "2027-03-31",
        "2027-05-31",
        "2027-07-31",
    ]


def test_last_friday_and_bysetpos() -> None:
    last_friday = series("FREQ=MONTHLY;BYDAY=-1FR", "2027-01-01T10:00", BERLIN)
    assert [d.day for d in last_friday.upcoming(last_friday.start, 3)] == [29, 26, 26]
    last_workday = series(
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "2027-01-01T10:00", BERLIN
    )
    assert [d.day for d in last_workday.upcoming(last_workday.start, 3)] == [29, 26, 31]


def test_count_and_until() -> None:
    counted = series("FREQ=DAILY;COUNT=3", "2027-01-01T09:00", NY)
    assert len(list(counted)) == 3
    until_date = series("FREQ=DAILY;UNTIL=20270103", "2027-01-01T09:00", NY)
    assert len(list(until_date)) == 3  # a DATE includes the whole day
    until_utc = series("FREQ=DAILY;UNTIL=20270103T140000Z", "2027-01-01T09:00", NY)
    assert len(list(until_utc)) == 3  # 09:00 New York is 14:00Z


def test_exdates_are_skipped() -> None:
    s = series("FREQ=DAILY;COUNT=3", "2027-01-01T09:00", NY)
    skipped = Recurrence(s.rule, NY, s.start, frozenset({localize(datetime(2027, 1, 2, 9), NY)}))
    assert [d.day for d in skipped] == [1, 3]


def test_a_rule_that_never_matches_ends() -> None:
    s = series("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "2027-01-01T09:00", NY)
    assert s.after(s.start) is None


def test_rfc5545_examples() -> None:
    # RFC 5545 §3.8.5.3, with DTSTART 1997-09-02T09:00 America/New_York.
    def first(rule: str, n: int, start: str = "1997-09-02T09:00") -> list[str]:
        s = series(rule, start, NY)
        return [d.strftime("%Y-%m-%d %H:%M") for d in s.upcoming(s.start, n)]

    assert first("FREQ=DAILY;INTERVAL=10;COUNT=5", 5)[-1] == "1997-10-12 09:00"
    assert first("FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,TH", 4) == [
        "1997-09-02 09:00",
        "1997-09-04 09:00",
        "1997-09-16 09:00",
        "1997-09-18 09:00",
    ]
    assert first("FREQ=MONTHLY;BYDAY=1FR", 3, "1997-09-05T09:00") == [
        "1997-09-05 09:00",
        "1997-10-03 09:00",
        "1997-11-07 09:00",
    ]
    assert first("FREQ=MONTHLY;BYMONTHDAY=-3", 3, "1997-09-28T09:00") == [
        "1997-09-28 09:00",
        "1997-10-29 09:00",
        "1997-11-28 09:00",
    ]
    assert first("FREQ=YEARLY;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA", 1, "1998-01-01T09:00") == [
        "1998-01-01 09:00"
    ]
    assert first("FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", 3) == [
        "1998-02-13 09:00",
        "1998-03-13 09:00",
        "1998-11-13 09:00",
    ]
    assert first("FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3", 3, "1997-09-04T09:00") == [
        "1997-09-04 09:00",
        "1997-10-07 09:00",
        "1997-11-06 09:00",
    ]


@pytest.mark.parametrize(
    ("rule", "normalised"),
    [
        ("freq=weekly;byday=mo,we", "FREQ=WEEKLY;BYDAY=MO,WE"),
        ("RRULE:FREQ=DAILY", "FREQ=DAILY"),
        ("INTERVAL=2;FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2"),
        (" FREQ=MONTHLY ; BYDAY=-1FR ;", "FREQ=MONTHLY;BYDAY=-1FR"),
    ],
)
def test_parse_rule_normalises(rule: str, normalised: str) -> None:
    assert parse_rule(rule) == normalised


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ("", "empty"),
        ("FREQ", "NAME=VALUE"),
        ("FREQ=DAILY;BYDAY=XX", "BYDAY=XX"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR=24"),
        ("FREQ=YEARLY;BYWEEKNO=0", "BYWEEKNO=0"),
        ("FREQ=WEEKLY;WKST=XX", "WKST"),
        ("FREQ=DAILY;UNTIL=2027", "UNTIL"),
        ("FREQ=DAILY;COUNT=0", "COUNT"),
        ("FREQ=SECONDLY", "hourly"),
        ("BYDAY=MO", "FREQ"),
        ("FREQ=DAILY;X-NAME=1", "X-NAME"),
        ("FREQ=MONTHLY;BYDAY=60MO", "60MO"),
        ("FREQ=DAILY;BYMONTH=-1", "BYMONTH"),
        ("FREQ=DAILY;BYSETPOS=0", "BYSETPOS"),
        ("FREQ=DAILY;" + "BYHOUR=1;" * 100, "500"),
    ],
)
def test_bad_rules_name_the_bad_part(rule: str, named: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_rule(rule)
    assert named.lower() in caught.value.detail.lower()
    assert caught.value.problems[0].field == "recurrence_rule"
