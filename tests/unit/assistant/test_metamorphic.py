"""Metamorphic checks: the same request or answer inside a longer sentence reads
the same as on its own.

- Every request in the development corpus (`corpus.jsonl`) that the parser reads
  right is framed with padding people add ("please …", "can you …", "…, thanks")
  and must still match the item's expectation.
- Answers to the assistant's questions (see docs/assistant.md, "Conversation")
  are framed the way people answer ("… would work best for me", "I'm available
  …", "how about …") and must read as the bare answer does. The bare answers'
  readings are checked against values worked out by hand.

With the corpus, these make the grammar corpus: more than 600 items.
"""

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from assistant.parsing import parse_utterance
from assistant.parsing.answers import change_answer, reminder_answer
from assistant.parsing.clock import Clock
from assistant.parsing.reading import DueChange, Reading, ReminderOffset
from tests.unit.assistant.test_parser_corpus import ITEMS, mismatches

REQUEST_FRAMES = ("please {}", "{} please", "can you {}", "{}, thanks", "hey, {}", "ok so {}")
QUESTION_FRAMES = ("please {}", "{} please", "hey, {}")  # "can you what's due?" is not English
ANSWER_FRAMES = (
    "{} would work best for me",
    "I'm available {}",
    "how about {}",
    "maybe {}",
    "{} works for me",
    "let's say {}",
    "ok, {} then",
    "{} please",
)
MIN_GRAMMAR_ITEMS = 600

# Wednesday 10 February 2027, 08:30 in New York.
CLOCK = Clock.create(datetime(2027, 2, 10, 8, 30), "America/New_York")
FRIDAY, MONDAY, TOMORROW = date(2027, 2, 12), date(2027, 2, 15), date(2027, 2, 11)


def at(moment: datetime) -> Reading:
    return Reading("set_reminder", remind_at=moment)


def before(delta: timedelta, clock_time: time | None = None) -> Reading:
    return Reading("set_reminder", remind_before=ReminderOffset(delta, clock_time))


def due(day: date | None = None, clock_time: time | None = None) -> Reading:
    """A new day and/or time, read as if the task had none (23:59 for a day alone)."""
    when = CLOCK.at(day or date(2027, 2, 10), clock_time or time(23, 59))
    return Reading("update_task", due_at=when, due_change=DueChange(day, clock_time))


def shift(delta: timedelta) -> Reading:
    return Reading("update_task", due_change=DueChange(shift=delta))


# (answer, what it answers, the reading it must give)
ANSWERS: tuple[tuple[str, str, Reading | None], ...] = (
    ("tomorrow at 9am", "reminder", at(CLOCK.at(TOMORROW, time(9)))),
    ("friday at 5pm", "reminder", at(CLOCK.at(FRIDAY, time(17)))),
    ("monday morning", "reminder", at(CLOCK.at(MONDAY, time(9)))),
    ("at noon", "reminder", at(CLOCK.at(date(2027, 2, 10), time(12)))),
    ("in 2 hours", "reminder", at(CLOCK.after(timedelta(hours=2)))),
    ("an hour before", "reminder", before(timedelta(hours=1))),
    ("30 minutes before", "reminder", before(timedelta(minutes=30))),
    ("2 days before", "reminder", before(timedelta(days=2))),
    ("the day before at 10am", "reminder", before(timedelta(days=1), time(10))),
    ("the evening before", "reminder", before(timedelta(days=1), time(18))),
    ("half an hour earlier", "reminder", before(timedelta(minutes=30))),
    ("a week before", "reminder", before(timedelta(weeks=1))),
    ("friday at 3pm", "due", due(FRIDAY, time(15))),
    ("next monday", "due", due(MONDAY)),
    ("7pm", "due", due(None, time(19))),
    ("march 3 at 10", "due", due(date(2027, 3, 3), time(10))),
    ("2 days later", "due", shift(timedelta(days=2))),
    ("an hour earlier", "due", shift(-timedelta(hours=1))),
    ("by 3 days", "due", shift(timedelta(days=3))),
    ("high priority", "change", Reading("update_task", priority="high")),
    ("low priority", "change", Reading("update_task", priority="low")),
    ("to tomorrow", "change", due(TOMORROW)),
    ("every monday", "change", None),  # a new repeat: its rule is checked below
)


def _answer(text: str, wants: str) -> Reading | None:
    read = reminder_answer if wants == "reminder" else change_answer
    return read(text, CLOCK)


def _requests() -> list[Any]:
    cases = []
    for item in ITEMS:
        if item.get("known_gap") or item["expect"].get("intent") in (None, "unknown"):
            continue
        frames = QUESTION_FRAMES if item["expect"]["intent"] == "find_tasks" else REQUEST_FRAMES
        for n, frame in enumerate(frames):
            cases.append(pytest.param(item, frame, id=f"{item['id']}~{n}"))
    return cases


REQUESTS = _requests()


@pytest.mark.parametrize(("item", "frame"), REQUESTS)
def test_a_framed_request_reads_like_the_bare_one(item: dict[str, Any], frame: str) -> None:
    text = frame.format(item["text"])
    reading = parse_utterance(text, datetime.fromisoformat(item["now"]), item["tz"]).to_json()
    assert mismatches(item, reading) == [], f"{text!r} -> {reading}"


@pytest.mark.parametrize(("answer", "wants", "expected"), ANSWERS)
def test_a_bare_answer_reads_as_worked_out(
    answer: str, wants: str, expected: Reading | None
) -> None:
    reading = _answer(answer, wants)
    assert reading is not None, answer
    if expected is None:
        assert reading.recurrence_rule == "FREQ=WEEKLY;BYDAY=MO"
    else:
        assert reading == expected


@pytest.mark.parametrize("frame", ANSWER_FRAMES)
@pytest.mark.parametrize(("answer", "wants"), [(a, w) for a, w, _ in ANSWERS])
def test_a_framed_answer_reads_like_the_bare_one(answer: str, wants: str, frame: str) -> None:
    assert _answer(frame.format(answer), wants) == _answer(answer, wants)


@pytest.mark.parametrize(
    "text",
    ["buy milk", "whenever you feel like it", "the dentist", "no idea", "call mom tomorrow"],
)
def test_what_is_not_an_answer_is_not_read_as_one(text: str) -> None:
    assert reminder_answer(text, CLOCK) is None
    assert change_answer(text, CLOCK) is None


def test_the_grammar_corpus_has_enough_items() -> None:
    total = len(ITEMS) + len(REQUESTS) + len(ANSWERS) * (1 + len(ANSWER_FRAMES))
    assert total >= MIN_GRAMMAR_ITEMS, total
