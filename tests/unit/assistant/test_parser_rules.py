"""The reading conventions (docs/reference.md, The `todo parse` reading), one group
of cases per convention.

Sentences here are deliberately not the corpus's: other words, zones, dates and
DST days. `NOW` is Saturday 2026-11-28 10:00 in New York unless a case says otherwise.
"""

import json
import string
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.parsing import Reading, parse_utterance
from assistant.parsing.clock import Clock
from assistant.parsing.parser import interpret
from assistant.parsing.reading import INTENTS, PRIORITIES

NOW = "2026-11-28T10:00:00"  # a Saturday
NY = "America/New_York"


def read(text: str, now: str = NOW, tz: str = NY) -> dict[str, Any]:
    return parse_utterance(text, datetime.fromisoformat(now), tz).to_json()


def subset(reading: dict[str, Any], **expected: Any) -> dict[str, Any]:
    """The fields of `reading` named in `expected` (for one readable assert)."""
    return {key: reading.get(key) for key in expected}


def occurrences(rule: str, start: str, tz: str, count: int = 4) -> list[str]:
    dtstart = datetime.fromisoformat(start).astimezone(ZoneInfo(tz))
    found: list[str] = []
    for moment in rrulestr(rule, dtstart=dtstart):
        found.append(moment.isoformat())
        if len(found) == count:
            break
    return found


# --- times of day and default times ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "due_at"),
    [
        ("water the ferns tomorrow", "2026-11-29T23:59:00-05:00"),
        ("call the vet tomorrow morning", "2026-11-29T09:00:00-05:00"),
        ("call the vet tomorrow in the afternoon", "2026-11-29T15:00:00-05:00"),
        ("iron shirts monday evening", "2026-11-30T18:00:00-05:00"),
        ("watch the documentary tonight", "2026-11-28T20:00:00-05:00"),
        ("collect the parcel on tuesday at noon", "2026-12-01T12:00:00-05:00"),
        ("collect the parcel at midday tomorrow", "2026-11-29T12:00:00-05:00"),
        ("phone the garage at 4:45pm on wednesday", "2026-12-02T16:45:00-05:00"),
        ("phone the garage wednesday 16:45", "2026-12-02T16:45:00-05:00"),
        ("dinner with Tom at 8 tomorrow evening", "2026-11-29T20:00:00-05:00"),
        ("jog at 6 in the morning on sunday", "2026-11-29T06:00:00-05:00"),
        ("post the letters this afternoon", "2026-11-28T15:00:00-05:00"),
        ("finish the report by end of day", "2026-11-28T23:59:00-05:00"),
        ("prepare the slides the day after tomorrow", "2026-11-30T23:59:00-05:00"),
    ],
)
def test_day_and_time_of_day(text: str, due_at: str) -> None:
    reading = read(text)
    assert reading["intent"] == "add_task"
    assert reading["due_at"] == due_at


def test_a_bare_time_is_the_next_such_time() -> None:
    assert read("call mom at 5pm")["due_at"] == "2026-11-28T17:00:00-05:00"
    assert read("call mom at 9am")["due_at"] == "2026-11-29T09:00:00-05:00"


def test_today_at_a_time_that_has_passed_stays_today() -> None:
    # The user named the day; the task is simply already due.
    assert read("call mom today at 9am")["due_at"] == "2026-11-28T09:00:00-05:00"


def test_a_reminder_without_a_time_fires_at_nine() -> None:
    reading = read("remind me about the passport renewal on monday")
    assert subset(reading, intent=1, task=1, remind_at=1) == {
        "intent": "set_reminder",
        "task": "passport renewal",
        "remind_at": "2026-11-30T09:00:00-05:00",
    }


# --- weekdays, month/day, relative dates ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "due_at"),
    [
        ("clean the windows on saturday", "2026-12-05T23:59:00-05:00"),  # never today
        ("clean the windows next sunday", "2026-11-29T23:59:00-05:00"),
        ("clean the windows this coming monday", "2026-11-30T23:59:00-05:00"),
        ("clean the windows on tue", "2026-12-01T23:59:00-05:00"),
        ("clean the windows friday", "2026-12-04T23:59:00-05:00"),
        ("clean the windows by thursday", "2026-12-03T23:59:00-05:00"),
    ],
)
def test_weekday_is_first_such_day_after_today(text: str, due_at: str) -> None:
    assert read(text)["due_at"] == due_at


@pytest.mark.parametrize(
    ("text", "due_at"),
    [
        ("renew the visa on may 9", "2028-05-09T23:59:00+09:00"),  # passed yesterday
        ("renew the visa on may 10", "2027-05-10T23:59:00+09:00"),  # today still counts
        ("renew the visa on the 3rd of february", "2028-02-03T23:59:00+09:00"),
        ("renew the visa on 11 may", "2027-05-11T23:59:00+09:00"),
        ("renew the visa on feb 29", "2028-02-29T23:59:00+09:00"),
        ("renew the visa on march 3, 2027", "2027-03-03T23:59:00+09:00"),
        ("renew the visa on 2027-06-01 at 13:00", "2027-06-01T13:00:00+09:00"),
        ("renew the visa on the 9th", "2027-06-09T23:59:00+09:00"),
        ("renew the visa on the 10th", "2027-05-10T23:59:00+09:00"),
    ],
)
def test_month_and_day_that_passed_is_next_year(text: str, due_at: str) -> None:
    assert read(text, now="2027-05-10T08:00:00", tz="Asia/Tokyo")["due_at"] == due_at


@pytest.mark.parametrize(
    ("text", "due_at"),
    [
        ("board meeting on the last friday of the month", "2026-11-27T23:59:00+00:00"),
        ("board meeting on the first monday of next month", "2026-12-07T23:59:00+00:00"),
        ("board meeting on the second tuesday of january", "2027-01-12T23:59:00+00:00"),
        ("submit the claim within 3 days", "2026-11-15T23:59:00+00:00"),
        ("tidy the shed this weekend", "2026-11-14T23:59:00+00:00"),
        ("tidy the shed next week", "2026-11-16T23:59:00+00:00"),
        ("tidy the shed by the end of the month", "2026-11-30T23:59:00+00:00"),
    ],
)
def test_more_day_expressions(text: str, due_at: str) -> None:
    reading = read(text, now="2026-11-12T09:00:00", tz="Europe/London")  # a Thursday
    assert reading["due_at"] == due_at


def test_numeric_dates_follow_the_zone_convention() -> None:
    assert read("pay the fee on 12/05", tz=NY)["due_at"] == "2026-12-05T23:59:00-05:00"
    london = read("pay the fee on 12/05", tz="Europe/London")
    assert london["due_at"] == "2027-05-12T23:59:00+01:00"
    assert read("pay the fee on 25/12", tz=NY)["due_at"] == "2026-12-25T23:59:00-05:00"


@pytest.mark.parametrize(
    ("text", "due_at"),
    [
        ("back up the photos in 10 days", "2026-12-08T23:59:00-05:00"),
        ("back up the photos in a week", "2026-12-05T23:59:00-05:00"),
        ("back up the photos in two weeks", "2026-12-12T23:59:00-05:00"),
        ("back up the photos in 3 months", "2027-02-28T23:59:00-05:00"),
        ("back up the photos 4 days from now", "2026-12-02T23:59:00-05:00"),
        ("back up the photos in 90 minutes", "2026-11-28T11:30:00-05:00"),
        ("back up the photos in half an hour", "2026-11-28T10:30:00-05:00"),
        ("back up the photos in 3 hours", "2026-11-28T13:00:00-05:00"),
        ("back up the photos in an hour and a half", "2026-11-28T11:30:00-05:00"),
        ("back up the photos in 2 days at 7pm", "2026-11-30T19:00:00-05:00"),
    ],
)
def test_in_n_units(text: str, due_at: str) -> None:
    reading = read(text)
    assert reading["due_at"] == due_at
    assert reading["title"] == "Back up the photos"


def test_in_n_months_clamps_to_the_month_end() -> None:
    reading = read("service the boiler in 1 month", now="2027-01-31T12:00:00")
    assert reading["due_at"] == "2027-02-28T23:59:00-05:00"


# --- DST ------------------------------------------------------------------------------


def test_wall_clock_time_gets_that_days_offset() -> None:
    # London springs forward on Sunday 2027-03-28.
    reading = read("call the landlady tomorrow at 9am", "2027-03-27T12:00:00", "Europe/London")
    assert reading["due_at"] == "2027-03-28T09:00:00+01:00"
    before = read("call the landlady today at 9pm", "2027-03-27T12:00:00", "Europe/London")
    assert before["due_at"] == "2027-03-27T21:00:00+00:00"


def test_a_time_skipped_by_spring_forward_moves_ahead() -> None:
    reading = read("check the boiler tomorrow at 2:30am", "2027-03-13T22:00:00", NY)
    assert reading["due_at"] == "2027-03-14T03:30:00-04:00"


def test_a_repeated_hour_at_fall_back_takes_the_first() -> None:
    reading = read("feed the baby tomorrow at 1:30am", "2026-10-31T12:00:00", "America/Los_Angeles")
    assert reading["due_at"] == "2026-11-01T01:30:00-07:00"


def test_in_hours_is_real_time_across_a_dst_change() -> None:
    # 01:30 EST + 1 hour of real time is 03:30 EDT (02:xx does not exist that night).
    reading = read("take the pill in 1 hour", "2027-03-14T01:30:00", NY)
    assert reading["due_at"] == "2027-03-14T03:30:00-04:00"


def test_recurring_times_stay_on_the_wall_clock_across_dst() -> None:
    reading = read("walk the dog every day at 7am", "2027-03-12T20:00:00", NY)
    assert reading["due_at"] == "2027-03-13T07:00:00-05:00"
    assert occurrences(reading["recurrence_rule"], reading["due_at"], NY, 3) == [
        "2027-03-13T07:00:00-05:00",
        "2027-03-14T07:00:00-04:00",
        "2027-03-15T07:00:00-04:00",
    ]


# --- "remind me ..." -------------------------------------------------------------------


def test_remind_me_to_adds_a_task_due_and_reminded_at_the_time() -> None:
    reading = read("remind me to feed the cat at 6pm")
    assert subset(reading, intent=1, title=1, due_at=1, remind_at=1) == {
        "intent": "add_task",
        "title": "Feed the cat",
        "due_at": "2026-11-28T18:00:00-05:00",
        "remind_at": "2026-11-28T18:00:00-05:00",
    }


def test_remind_me_to_with_only_a_day_uses_both_default_times() -> None:
    reading = read("remind me to book the car wash tomorrow")
    assert reading["due_at"] == "2026-11-29T23:59:00-05:00"
    assert reading["remind_at"] == "2026-11-29T09:00:00-05:00"


@pytest.mark.parametrize(
    "text",
    [
        "remind me tomorrow at 8am to call the school",
        "at 8am tomorrow remind me to call the school",
        "please remind me to call the school at 8 am tomorrow",
    ],
)
def test_remind_me_to_in_other_orders(text: str) -> None:
    reading = read(text)
    assert subset(reading, intent=1, title=1, remind_at=1) == {
        "intent": "add_task",
        "title": "Call the school",
        "remind_at": "2026-11-29T08:00:00-05:00",
    }


@pytest.mark.parametrize(
    ("text", "task", "remind_at"),
    [
        ("remind me about the car insurance on friday at 6pm", "car insurance",
         "2026-12-04T18:00:00-05:00"),
        ("remind me of my haircut in 20 minutes", "haircut", "2026-11-28T10:20:00-05:00"),
        ("set a reminder for the plumber visit tomorrow at 7:30", "plumber visit",
         "2026-11-29T07:30:00-05:00"),
        ("remind me on monday about the library books", "library books",
         "2026-11-30T09:00:00-05:00"),
    ],
)  # fmt: skip
def test_remind_me_about_an_existing_task(text: str, task: str, remind_at: str) -> None:
    reading = read(text)
    assert subset(reading, intent=1, task=1, remind_at=1, title=1) == {
        "intent": "set_reminder",
        "task": task,
        "remind_at": remind_at,
        "title": None,
    }


@pytest.mark.parametrize(
    ("text", "remind_at"),
    [
        ("remind me tomorrow at 7", "2026-11-29T07:00:00-05:00"),
        ("set a reminder for 8pm", "2026-11-28T20:00:00-05:00"),
        ("remind me to", None),
    ],
)
def test_a_reminder_without_a_task_asks_for_one(text: str, remind_at: str | None) -> None:
    reading = read(text)
    assert subset(reading, intent=1, task=1, title=1, remind_at=1) == {
        "intent": "set_reminder",
        "task": None,
        "title": None,
        "remind_at": remind_at,
    }


@pytest.mark.parametrize(
    ("text", "remind_at"),
    [
        ("vet visit on monday at 10am, remind me an hour before", "2026-11-30T09:00:00-05:00"),
        ("vet visit on monday at 10am, remind me 90 minutes before", "2026-11-30T08:30:00-05:00"),
        ("vet visit on monday at 10am - remind me 2 hours earlier", "2026-11-30T08:00:00-05:00"),
        ("vet visit on monday at 10am and remind me the day before", "2026-11-29T10:00:00-05:00"),
        ("vet visit on monday at 10am, remind me at 7am", "2026-11-30T07:00:00-05:00"),
    ],
)
def test_n_minutes_before_counts_back_from_the_due_time(text: str, remind_at: str) -> None:
    reading = read(text)
    assert subset(reading, title=1, due_at=1, remind_at=1) == {
        "title": "Vet visit",
        "due_at": "2026-11-30T10:00:00-05:00",
        "remind_at": remind_at,
    }


def test_minutes_before_across_a_dst_change_counts_real_time() -> None:
    reading = read("early flight on sunday at 3:30am, remind me 2 hours before",
                   "2026-10-30T12:00:00", "America/Los_Angeles")  # fmt: skip
    assert reading["due_at"] == "2026-11-01T03:30:00-08:00"
    assert reading["remind_at"] == "2026-11-01T01:30:00-08:00"


# --- recurrence -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule", "due_at"),
    [
        ("stand-up every weekday", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
         "2026-11-30T23:59:00-05:00"),
        ("sync with Ana every other week on tuesday at 8am", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
         "2026-12-01T08:00:00-05:00"),
        ("clean the bathroom every other week", "FREQ=WEEKLY;INTERVAL=2",
         "2026-11-28T23:59:00-05:00"),
        ("payroll every second friday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR",
         "2026-12-04T23:59:00-05:00"),
        ("yoga on mondays and fridays at 6:30pm", "FREQ=WEEKLY;BYDAY=MO,FR",
         "2026-11-30T18:30:00-05:00"),
        ("take vitamins daily at 8am", "FREQ=DAILY", "2026-11-29T08:00:00-05:00"),
        ("stretch every day at 11am", "FREQ=DAILY", "2026-11-28T11:00:00-05:00"),
        ("market run every saturday at 5pm", "FREQ=WEEKLY;BYDAY=SA", "2026-11-28T17:00:00-05:00"),
        ("market run every saturday at 9am", "FREQ=WEEKLY;BYDAY=SA", "2026-12-05T09:00:00-05:00"),
        ("pay rent on the 1st of every month", "FREQ=MONTHLY;BYMONTHDAY=1",
         "2026-12-01T23:59:00-05:00"),
        ("pay rent monthly on the 1st", "FREQ=MONTHLY;BYMONTHDAY=1", "2026-12-01T23:59:00-05:00"),
        ("close the books every month on the 31st", "FREQ=MONTHLY;BYMONTHDAY=31",
         "2026-12-31T23:59:00-05:00"),
        ("board meeting every first monday of the month at 10am", "FREQ=MONTHLY;BYDAY=1MO",
         "2026-12-07T10:00:00-05:00"),
        ("invoice clients every last day of the month", "FREQ=MONTHLY;BYMONTHDAY=-1",
         "2026-11-30T23:59:00-05:00"),
        ("review the budget every 3 months on the 15th", "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15",
         "2026-12-15T23:59:00-05:00"),
        ("leap day party every year on feb 29", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
         "2028-02-29T23:59:00-05:00"),
        ("send dad a card every december 12th", "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=12",
         "2026-12-12T23:59:00-05:00"),
        ("meditate every morning", "FREQ=DAILY", "2026-11-29T09:00:00-05:00"),
        ("check the mailbox every 2 days at 4pm", "FREQ=DAILY;INTERVAL=2",
         "2026-11-28T16:00:00-05:00"),
    ],
)  # fmt: skip
def test_repeat_phrases(text: str, rule: str, due_at: str) -> None:
    reading = read(text)
    assert reading["intent"] == "add_task"
    assert reading["due_at"] == due_at
    assert occurrences(reading["recurrence_rule"], due_at, NY, 12) == occurrences(
        rule, due_at, NY, 12
    ), reading["recurrence_rule"]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("review the budget every quarter", "FREQ=MONTHLY;INTERVAL=3"),
        ("water the orchid fortnightly", "FREQ=WEEKLY;INTERVAL=2"),
        ("book club every third thursday of the month", "FREQ=MONTHLY;BYDAY=3TH"),
        ("gym every mon, wed and fri at 7am", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
        ("call grandma each sunday", "FREQ=WEEKLY;BYDAY=SU"),
        ("clean the gutters every weekend", "FREQ=WEEKLY;BYDAY=SA,SU"),
        ("renew the domain annually", "FREQ=YEARLY"),
    ],
)
def test_more_repeat_phrases(text: str, rule: str) -> None:
    assert read(text)["recurrence_rule"] == rule


def test_every_other_week_counts_from_the_first_matching_day() -> None:
    # On a Sunday, "every 2 weeks on monday" starts tomorrow, not in eight days.
    reading = read("team sync every 2 weeks on monday at 10am", "2026-11-29T12:00:00", NY)
    assert reading["due_at"] == "2026-11-30T10:00:00-05:00"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("physio every day at 7am for 5 times", "FREQ=DAILY;COUNT=5"),
        ("physio every tuesday and thursday 6 times", "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=6"),
        ("physio every monday until december 21", "FREQ=WEEKLY;BYDAY=MO;UNTIL=20261222T045959Z"),
        ("physio every day till jan 4", "FREQ=DAILY;UNTIL=20270105T045959Z"),
    ],
)
def test_count_and_until(text: str, rule: str) -> None:
    reading = read(text)
    assert reading["title"] == "Physio"
    assert reading["recurrence_rule"] == rule


def test_until_is_end_of_that_local_day_in_utc() -> None:
    reading = read("water the bonsai every day until jan 5", "2026-12-20T08:00:00", "Asia/Tokyo")
    assert reading["recurrence_rule"] == "FREQ=DAILY;UNTIL=20270105T145959Z"
    summer = read("water the bonsai every day until july 1", "2027-06-01T08:00:00", "Europe/Paris")
    assert summer["recurrence_rule"] == "FREQ=DAILY;UNTIL=20270701T215959Z"


def test_starting_moves_the_first_occurrence() -> None:
    reading = read("piano lesson every tuesday at 4 pm starting december 10")
    assert reading["due_at"] == "2026-12-15T16:00:00-05:00"
    assert reading["recurrence_rule"] == "FREQ=WEEKLY;BYDAY=TU"


def test_repeat_words_inside_a_name_are_not_a_rule() -> None:
    reading = read("weekly review on friday")
    assert subset(reading, title=1, recurrence_rule=1, due_at=1) == {
        "title": "Weekly review",
        "recurrence_rule": None,
        "due_at": "2026-12-04T23:59:00-05:00",
    }


# --- priority and tags -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("fix the gate p1", "high"),
        ("fix the gate, urgent", "high"),
        ("urgent: fix the gate", "high"),
        ("fix the gate - important!", "high"),
        ("fix the gate with high priority", "high"),
        ("fix the gate (top priority)", "high"),
        ("fix the gate p2", "medium"),
        ("fix the gate, medium priority", "medium"),
        ("fix the gate priority: medium", "medium"),
        ("fix the gate p3", "low"),
        ("fix the gate low-priority", "low"),
        ("fix the gate, not urgent", "low"),
        ("fix the gate", None),
    ],
)
def test_priorities(text: str, priority: str | None) -> None:
    reading = read(text)
    assert subset(reading, title=1, priority=1) == {"title": "Fix the gate", "priority": priority}


def test_important_inside_a_title_is_a_word() -> None:
    reading = read("print the important documents")
    assert subset(reading, title=1, priority=1) == {
        "title": "Print the important documents",
        "priority": None,
    }


def test_hash_tags_leave_the_title() -> None:
    reading = read("learn C# basics #Study #career-growth tomorrow")
    assert subset(reading, title=1, tags=1) == {
        "title": "Learn C# basics",
        "tags": ["study", "career-growth"],
    }


def test_tags_are_not_repeated() -> None:
    assert read("buy soap #home #Home #shopping")["tags"] == ["home", "shopping"]


# --- titles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("add buy eggs to my list", "Buy eggs"),
        ("create a task called call the plumber due friday", "Call the plumber"),
        ("todo: email the teacher", "Email the teacher"),
        ("I need to book a table for four on saturday at 7pm", "Book a table for four"),
        ("don't forget to send the parcel to Lisbon", "Send the parcel to Lisbon"),
        ("buy a present for Anna on the 3rd of january", "Buy a present for Anna"),
        ("can you add renew the TV licence please", "Renew the TV licence"),
    ],
)
def test_titles_keep_the_users_words(text: str, title: str) -> None:
    reading = read(text)
    assert reading["intent"] == "add_task"
    assert reading["title"] == title


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("I have a dentist appointment on friday at 2pm", "A dentist appointment"),
        ("show the slides to the team tomorrow", "Show the slides to the team"),
        ("list the old bike on the marketplace", "List the old bike on the marketplace"),
        ("see the doctor on monday", "See the doctor"),
        ("finish the slides in 3 days", "Finish the slides"),
        ("weekly review on friday", "Weekly review"),
    ],
)
def test_task_like_sentences_that_start_with_other_verbs_are_new_tasks(
    text: str, title: str
) -> None:
    reading = read(text)
    assert reading["intent"] == "add_task"
    assert reading["title"] == title


# --- find filters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "now", "filters"),
    [
        ("anything due today?", NOW, {"due_after": "2026-11-28", "due_before": "2026-11-28"}),
        ("what do I have tomorrow", NOW, {"due_after": "2026-11-29", "due_before": "2026-11-29"}),
        ("list everything due this week", "2026-12-02T09:00:00",
         {"due_after": "2026-12-02", "due_before": "2026-12-06"}),
        ("what's due this week?", "2026-12-06T09:00:00",
         {"due_after": "2026-12-06", "due_before": "2026-12-06"}),
        ("what's due next week", NOW, {"due_after": "2026-11-30", "due_before": "2026-12-06"}),
        ("is anything overdue?", NOW, {"status": "active", "overdue": True}),
        ("list my overdue tasks tagged home", "2027-01-01T09:00:00",
         {"status": "active", "overdue": True, "tags": ["home"]}),
        ("what's overdue this week?", NOW, {"status": "active", "overdue": True}),
        ("which tasks are tagged errands?", NOW, {"tags": ["errands"]}),
        ("show tasks tagged work and family", NOW, {"tags": ["work", "family"]}),
        ("show me urgent stuff due tomorrow", NOW,
         {"priority": "high", "due_after": "2026-11-29", "due_before": "2026-11-29"}),
        ("list p2 tasks", NOW, {"priority": "medium"}),
        ("which of my tasks are recurring?", NOW, {"is_recurring": True}),
        ("show my finished tasks", NOW, {"status": "completed"}),
        ("what did I get done this week?", NOW,
         {"status": "completed", "due_after": "2026-11-28", "due_before": "2026-11-29"}),
        ("show open tasks", NOW, {"status": "active"}),
        ("show tasks due before friday", NOW, {"due_before": "2026-12-03"}),
        ("tasks due by december 5", NOW, {"due_before": "2026-12-05"}),
        ("search for invoices", NOW, {"q": "invoices"}),
        ("look for tasks mentioning the landlord", NOW, {"q": "landlord"}),
        ("find my tasks about the budget", NOW, {"q": "budget"}),
        ("when is my dentist appointment?", NOW, {"q": "dentist appointment"}),
        ("what do I need to do today?", NOW,
         {"due_after": "2026-11-28", "due_before": "2026-11-28"}),
        ("show me #garden tasks due in the next 3 days", NOW,
         {"tags": ["garden"], "due_after": "2026-11-28", "due_before": "2026-12-01"}),
    ],
)  # fmt: skip
def test_find_filters(text: str, now: str, filters: dict[str, Any]) -> None:
    reading = read(text, now=now)
    assert reading["intent"] == "find_tasks"
    assert subset(reading["filters"], **filters) == filters


def test_filters_are_empty_outside_find() -> None:
    assert read("buy bread tomorrow #food")["filters"] == {}


# --- references to existing tasks -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent", "task"),
    [
        ("mark the invoice task done", "complete_task", "invoice"),
        ("tick the dentist off my list", "complete_task", "dentist"),
        ("I just finished the tax forms", "complete_task", "tax forms"),
        ("done with our grocery run", "complete_task", "grocery run"),
        ("gutter cleaning - done", "complete_task", "gutter cleaning"),
        ("the car wash has been completed", "complete_task", "car wash"),
        ("complete the essay todo", "complete_task", "essay"),
        ("reopen my passport renewal", "reopen_task", "passport renewal"),
        ("mark the essay as incomplete", "reopen_task", "essay"),
        ("the essay isn't finished", "reopen_task", "essay"),
        ("uncheck pay rent", "reopen_task", "pay rent"),
        ("delete the gutter cleaning task", "delete_task", "gutter cleaning"),
        ("remove call Anna from my list", "delete_task", "call Anna"),
        ("erase that dentist reminder", "delete_task", "dentist reminder"),
        ("cancel our dinner reservation", "delete_task", "dinner reservation"),
        ("skip this week's piano lesson", "skip_occurrence", "piano lesson"),
        ("skip yoga tomorrow", "skip_occurrence", "yoga"),
        ("skip the next instance of take out the bins", "skip_occurrence", "take out the bins"),
        ("skip the standup on monday", "skip_occurrence", "standup"),
        ("I didn't actually finish the essay", "reopen_task", "essay"),
        ("I got the groceries done", "complete_task", "groceries"),
        ("complete: buy milk", "complete_task", "buy milk"),
        ("delete the task called water the plants", "delete_task", "water the plants"),
    ],
)
def test_task_references(text: str, intent: str, task: str) -> None:
    assert subset(read(text), intent=1, task=1) == {"intent": intent, "task": task}


def test_a_dated_complete_or_cancel_is_a_new_task() -> None:
    reading = read("complete the tax form by friday")
    assert subset(reading, intent=1, title=1) == {
        "intent": "add_task",
        "title": "Complete the tax form",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("push the dentist visit to next wednesday at 2pm",
         {"task": "dentist visit", "due_at": "2026-12-02T14:00:00-05:00"}),
        ("reschedule the trip to Rome for friday",
         {"task": "trip to Rome", "due_at": "2026-12-04T23:59:00-05:00"}),
        ("postpone my haircut until monday",
         {"task": "haircut", "due_at": "2026-11-30T23:59:00-05:00"}),
        ("change the deadline of the grant application to december 10",
         {"task": "grant application", "due_at": "2026-12-10T23:59:00-05:00"}),
        ("the grant application is now due tuesday",
         {"task": "grant application", "due_at": "2026-12-01T23:59:00-05:00"}),
        ("change walk the dog to walk the dog twice", {"task": "walk the dog",
                                                       "title": "Walk the dog twice"}),
        ("change the title of the car task to sell the car",
         {"task": "car", "title": "Sell the car"}),
        ("rename 'call mom' to 'call mom and dad'",
         {"task": "call mom", "title": "Call mom and dad"}),
        ("set the priority of the report to urgent", {"task": "report", "priority": "high"}),
        ("mark the report as high priority", {"task": "report", "priority": "high"}),
        ("make the newsletter p3", {"task": "newsletter", "priority": "low"}),
        ("change my gym task to medium priority", {"task": "gym", "priority": "medium"}),
        ("prioritize the grant application", {"task": "grant application", "priority": "high"}),
        ("tag the passport renewal with travel", {"task": "passport renewal", "tags": ["travel"]}),
        ("add #travel to the passport renewal",
         {"task": "passport renewal", "tags": ["travel"]}),
        ("bump the essay to high priority", {"task": "essay", "priority": "high"}),
        ("move the trip to Rome to the 20th at 6pm",
         {"task": "trip to Rome", "due_at": "2026-12-20T18:00:00-05:00"}),
        ("make the team sync repeat every monday at 9am",
         {"task": "team sync", "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO",
          "due_at": "2026-11-30T09:00:00-05:00"}),
    ],
)  # fmt: skip
def test_updates(text: str, expected: dict[str, Any]) -> None:
    reading = read(text)
    assert reading["intent"] == "update_task"
    assert subset(reading, **expected) == expected


# --- not about tasks ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "hey",
        "good evening!",
        "thank you so much",
        "ok great, bye",
        "how are you doing?",
        "who made you?",
        "what's the weather like in Lisbon?",
        "tell me something funny",
        "I'm so tired",
        "never mind",
        "delete",
        "add a task",
        "",
        "   ",
        "???",
        "🙂",
    ],
)
def test_small_talk_is_unknown(text: str) -> None:
    reading = read(text)
    assert reading == Reading(intent="unknown").to_json()


# --- API edges ------------------------------------------------------------------------


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "   ", "../etc/passwd", "EST5EDT6"])
def test_an_unknown_zone_is_a_clear_value_error(tz: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        parse_utterance("buy milk", datetime(2026, 11, 28, 10), tz)


def test_an_aware_now_is_read_in_the_zone() -> None:
    aware = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 10:00 in New York
    reading = parse_utterance("call mom in 2 hours", aware, NY).to_json()
    assert reading["due_at"] == "2026-11-28T12:00:00-05:00"


def test_json_has_exactly_the_contract_keys() -> None:
    assert list(read("buy milk").keys()) == [
        "intent", "task", "title", "due_at", "remind_at", "priority", "tags",
        "recurrence_rule", "filters",
    ]  # fmt: skip


# --- robustness -----------------------------------------------------------------------

_WORDS = (
    "every other week on friday at 7am until december 31 for 3 times remind me to about "
    "buy milk tomorrow tonight noon midnight in 45 minutes 2 hours days #work p1 urgent "
    "important high low medium priority mark as done reopen delete skip the next occurrence "
    "of move to rename change set make what's due overdue this week tagged show find search "
    "last first 15th 31st feb 29 2027-02-30 12/31 99/99 25:61 13pm 0am at 7 , . ? ! ' \" - "
    "monday mondays weekday weekend month year quarterly daily 0 999999999 starting from"
)
_VOCABULARY = _WORDS.split()
_ZONES = ("America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "UTC",
          "Pacific/Chatham", "America/St_Johns", "Asia/Kathmandu")  # fmt: skip


def _check_reading(data: dict[str, Any]) -> None:
    json.dumps(data)
    assert data["intent"] in INTENTS
    assert data["priority"] is None or data["priority"] in PRIORITIES
    assert all(tag == tag.lower() and tag for tag in data["tags"])
    for key in ("due_at", "remind_at"):
        if data[key] is not None:
            assert datetime.fromisoformat(data[key]).utcoffset() is not None
    if data["recurrence_rule"] is not None:
        assert data["recurrence_rule"].startswith("FREQ=")
        rrulestr(data["recurrence_rule"], dtstart=datetime(2026, 1, 1, tzinfo=UTC))
    if data["intent"] != "find_tasks":
        assert data["filters"] == {}


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(st.sampled_from(_VOCABULARY), max_size=25).map(" ".join),
        st.text(alphabet=string.printable, max_size=120),
    ),
    now=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
    tz=st.sampled_from(_ZONES),
)
def test_never_raises_and_always_returns_a_valid_reading(text: str, now: datetime, tz: str) -> None:
    # `interpret` has no safety net, so a reader bug would surface here.
    reading = interpret(text, Clock.create(now, tz))
    _check_reading(reading.to_json())


@pytest.mark.parametrize(
    "text",
    [
        "x" * 50_000,
        "move " + "the trip to " * 400,
        "every " * 400,
        "remind me " * 300,
        "buy milk " + "#tag " * 500,
        "mark " + "a " * 900 + "as done",
        "in 999999999 years",
        "in 99999999999999999999 minutes",
        "every 0 days",
        "on feb 30",
        "at 25:99",
    ],
)
def test_hostile_inputs_read_quickly_without_error(text: str) -> None:
    started = datetime.now(UTC)
    _check_reading(interpret(text, Clock.create(datetime(2026, 11, 28, 10), NY)).to_json())
    assert (datetime.now(UTC) - started).total_seconds() < 2
