"""The rules that merge a change with a task's current times, and the typo mending
that runs before the parser reads a message."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from assistant.parsing import parse_utterance, spelling
from assistant.parsing.changes import changed_due, reminder_before
from assistant.parsing.clock import Clock
from assistant.parsing.reading import DueChange, ReminderOffset
from assistant.parsing.spelling import mend

NEW_YORK = ZoneInfo("America/New_York")
CLOCK = Clock.create(datetime(2031, 3, 1, 12, 0), "America/New_York")  # a Saturday
# Clocks in New York go forward on Sunday 9 March 2031 at 02:00.
BEFORE_DST = datetime(2031, 3, 8, 9, 0, tzinfo=NEW_YORK)


def test_a_new_day_keeps_the_time_of_day_across_dst() -> None:
    moved = changed_due(BEFORE_DST, DueChange(day=date(2031, 3, 12)), CLOCK)
    assert moved == datetime(2031, 3, 12, 9, 0, tzinfo=NEW_YORK)
    assert moved is not None
    assert moved.utcoffset() == timedelta(hours=-4)


def test_a_new_time_keeps_the_day() -> None:
    moved = changed_due(BEFORE_DST, DueChange(clock_time=time(19, 0)), CLOCK)
    assert moved == datetime(2031, 3, 8, 19, 0, tzinfo=NEW_YORK)


def test_without_a_due_time_a_day_takes_the_default_and_a_time_its_next_occurrence() -> None:
    assert changed_due(None, DueChange(day=date(2031, 3, 12)), CLOCK) == datetime(
        2031, 3, 12, 23, 59, tzinfo=NEW_YORK
    )
    assert changed_due(None, DueChange(clock_time=time(10, 0)), CLOCK) == datetime(
        2031, 3, 2, 10, 0, tzinfo=NEW_YORK
    )


def test_shifts_by_days_keep_the_wall_clock_and_hours_are_real_time() -> None:
    two_days = changed_due(BEFORE_DST, DueChange(shift=timedelta(days=2)), CLOCK)
    assert two_days == datetime(2031, 3, 10, 9, 0, tzinfo=NEW_YORK)
    late = datetime(2031, 3, 9, 1, 30, tzinfo=NEW_YORK)
    hour = changed_due(late, DueChange(shift=timedelta(hours=1)), CLOCK)
    assert hour == datetime(2031, 3, 9, 3, 30, tzinfo=NEW_YORK)  # 02:30 does not exist
    earlier = changed_due(BEFORE_DST, DueChange(shift=-timedelta(minutes=30)), CLOCK)
    assert earlier == datetime(2031, 3, 8, 8, 30, tzinfo=NEW_YORK)
    assert changed_due(None, DueChange(shift=timedelta(days=1)), CLOCK) is None


def test_reminders_count_back_from_the_due_time() -> None:
    due = datetime(2031, 3, 10, 15, 0, tzinfo=NEW_YORK)
    assert reminder_before(due, ReminderOffset(timedelta(hours=1)), CLOCK) == datetime(
        2031, 3, 10, 14, 0, tzinfo=NEW_YORK
    )
    day_before = ReminderOffset(timedelta(days=1), clock_time=time(10, 0))
    assert reminder_before(due, day_before, CLOCK) == datetime(2031, 3, 9, 10, 0, tzinfo=NEW_YORK)
    # Two days back across the change: the same wall-clock time, another offset.
    two_days = reminder_before(due, ReminderOffset(timedelta(days=2)), CLOCK)
    assert two_days == datetime(2031, 3, 8, 15, 0, tzinfo=NEW_YORK)
    assert two_days is not None
    assert two_days.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("remnd me to call mom", "remind me to call mom"),
        ("delte the milk task", "delete the milk task"),
        ("complte the milk task", "complete the milk task"),
        ("call mom on wednsday", "call mom on wednesday"),
        ("gym every thrusday at 7", "gym every thursday at 7"),
        ("dentist decmber 30", "dentist december 30"),
        ("fix the roof, high priorty", "fix the roof, high priority"),
    ],
)
def test_typos_in_words_that_carry_the_request_are_mended(typed: str, meant: str) -> None:
    assert mend(typed) == meant


@pytest.mark.parametrize(
    "title",
    [
        "make a sundae",  # one letter from "sunday", but not where a day belongs
        "remote work setup",
        "compete in the race",
        "rewind the tape",
        "see you thrusday",  # a day after "you" is not a day the request names
        "Mondy's report",
    ],
)
def test_titles_are_left_as_typed(title: str) -> None:
    assert mend(title) == title


def test_no_known_word_is_mended_into_a_word_of_another_group() -> None:
    """Mending skips the words it knows. That is only safe while a known word can never
    be mended into a different one: the words of one place (days, months, levels, the
    commands before the same words) always come together, so a word of that place is
    among them, and no word of another place may be within reach."""
    commands = spelling._COMMANDS
    groups = [
        *(tuple(v for v, f in commands.items() if f == after) for after in set(commands.values())),
        spelling._DAY_WORDS,
        spelling._MONTHS,
        spelling._LEVELS,
        ("priority",),
    ]
    close = [
        (word, fixed)
        for word in sorted(spelling._KNOWN)
        for group in groups
        if word not in group and (fixed := spelling._closest(word, group))
    ]
    assert close == []


def test_a_misspelled_request_reads_like_the_right_one() -> None:
    now = datetime(2026, 12, 4, 10, 0)
    typed = parse_utterance("remnd me to submit the tax form by dec 30 high priorty", now, "UTC")
    right = parse_utterance("remind me to submit the tax form by dec 30 high priority", now, "UTC")
    assert typed == right
    assert typed.title == "Submit the tax form"
    assert typed.priority == "high"
