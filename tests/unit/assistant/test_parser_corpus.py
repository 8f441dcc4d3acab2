"""The development corpus: everyday sentences, each with the reading a person means.

`corpus.jsonl`, beside this file, holds one JSON object a line:

    {"id": "due-01", "text": "pick up the dry cleaning tomorrow at 4pm",
     "now": "2027-02-10T08:30:00", "tz": "Europe/Berlin",
     "expect": {"intent": "add_task", "title": "Pick up the dry cleaning",
                "due_at": "2027-02-11T16:00:00+01:00"}}

- `id` is stable; its prefix says what the item exercises: due (days and times),
  zone (time zones, DST days), repeat, prio, tag, remind, done, reopen, delete,
  skip, update, find, typo (misspelled request words), chat (not about tasks).
- `now` is the wall-clock time in the IANA zone `tz` when the sentence is said
  (no offset). `todo parse --batch corpus.jsonl` reads the same lines.
- `expect` holds only the fields of the `todo parse` object (docs/reference.md,
  "The `todo parse` reading") that the item checks. Its values are what the
  person means under the reading conventions, worked out with plain date
  arithmetic; they are never copied from what the parser prints.
- `known_gap`, when present, says why the parser does not read the item that
  way yet. Such an item is a strict xfail: the day the parser gets it right the
  run fails, and the field is removed. The expectation is never weakened to
  match the parser.

An item is right when every field of `expect` matches:
- `intent`, `priority`: equal. `tags`: equal as sets.
- `title`, `task`: equal after lowercasing, trimming spaces and punctuation,
  and dropping leading articles and possessives (the, my, a, an, our, this,
  that) and a trailing "task", "todo" or "item".
- `due_at`, `remind_at`: the same instant, whatever the offset notation.
- `recurrence_rule`: the same first 12 occurrences, started at the expected
  `due_at` in the item's zone (so part order or an added BYHOUR do not
  matter); without an expected `due_at`, the same text.
- `filters`: every expected key matches: `priority` and `tags` as sets (a list
  or a comma-separated string), `due_after`/`due_before` as a YYYY-MM-DD day (a
  date-time on that day is accepted), `q` like a title, `is_recurring` as a
  boolean. Other filter keys may be present.
"""

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from assistant.parsing import parse_utterance

CORPUS = Path(__file__).with_name("corpus.jsonl")
MIN_ITEMS = 100
FIELDS = {"id", "text", "now", "tz", "expect", "known_gap"}
READING_KEYS = {
    "intent", "task", "title", "due_at", "remind_at", "priority", "tags", "recurrence_rule",
    "filters",
}  # fmt: skip
_LEADING = re.compile(r"^(?:(?:the|my|a|an|our|this|that)\s+)+")
_TRAILING = re.compile(r"\s+(?:task|todo|item)$")
_PUNCT = " \t\n.,;:!?\"'()[]{}-"


def _items() -> list[dict[str, Any]]:
    """The corpus; empty when the file is missing (then `test_corpus_is_present` fails)."""
    if not CORPUS.is_file():
        return []
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _words(value: str | None) -> str | None:
    """A title or task reference, normalised as the rules above say."""
    if value is None:
        return None
    text = re.sub(r"\s+", " ", value.lower()).strip(_PUNCT)
    previous = None
    while previous != text:
        previous = text
        text = _TRAILING.sub("", _LEADING.sub("", text)).strip(_PUNCT)
    return text


def _instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _occurrences(rule: str, start: str, tz: str) -> list[datetime]:
    dtstart = datetime.fromisoformat(start).astimezone(ZoneInfo(tz))
    occurrences: list[datetime] = []
    for moment in rrulestr(rule, dtstart=dtstart):
        occurrences.append(moment)
        if len(occurrences) == 12:
            break
    return occurrences


def _as_set(value: Any) -> set[str]:
    if isinstance(value, str):
        return {part.strip() for part in value.split(",") if part.strip()}
    return {str(part) for part in value}


def _filter_matches(key: str, expected: Any, actual: Any) -> bool:
    if actual is None:
        return expected is None
    if key in ("priority", "tags"):
        return _as_set(expected) == _as_set(actual)
    if key in ("due_after", "due_before"):
        return str(actual).startswith(str(expected))
    if key == "q":
        return _words(expected) == _words(actual)
    if key == "is_recurring":
        return bool(actual) is bool(expected)
    return bool(expected == actual)


def mismatches(item: dict[str, Any], reading: dict[str, Any]) -> list[str]:
    """The fields of `item["expect"]` that `reading` gets wrong (empty when right)."""
    wrong: list[str] = []
    expect: dict[str, Any] = item["expect"]
    for key, expected in expect.items():
        actual = reading.get(key)
        if key in ("intent", "priority"):
            ok = expected == actual
        elif key == "tags":
            ok = set(expected) == set(actual or [])
        elif key in ("title", "task"):
            ok = _words(expected) == _words(actual)
        elif key in ("due_at", "remind_at"):
            ok = _instant(expected) == _instant(actual)
        elif key == "recurrence_rule":
            ok = _same_rule(expected, actual, expect.get("due_at"), item["tz"])
        elif key == "filters":
            found = reading.get("filters") or {}
            ok = all(_filter_matches(k, v, found.get(k)) for k, v in expected.items())
        else:
            ok = expected == actual
        if not ok:
            wrong.append(f"{key}: expected {expected!r}, got {actual!r}")
    return wrong


def _same_rule(expected: str | None, actual: str | None, start: str | None, tz: str) -> bool:
    if expected is None or actual is None:
        return expected == actual
    if start is None:
        return expected == actual
    try:
        return _occurrences(expected, start, tz) == _occurrences(actual, start, tz)
    except ValueError:
        return False


ITEMS = _items()


def _case(item: dict[str, Any]) -> Any:
    gap = item.get("known_gap")
    marks = [pytest.mark.xfail(reason=f"known gap: {gap}", strict=True)] if gap else []
    return pytest.param(item, id=item["id"], marks=marks)


def test_corpus_is_present() -> None:
    assert CORPUS.is_file(), f"the development corpus is missing: {CORPUS}"
    assert len(ITEMS) >= MIN_ITEMS, f"{CORPUS} has {len(ITEMS)} items, expected >= {MIN_ITEMS}"


def test_corpus_items_are_well_formed() -> None:
    ids = [item.get("id") for item in ITEMS]
    assert len(ids) == len(set(ids)), "item ids must be unique"
    for item in ITEMS:
        assert set(item) <= FIELDS, item
        assert {"id", "text", "now", "tz", "expect"} <= set(item), item
        assert item["expect"], item["id"]
        assert set(item["expect"]) <= READING_KEYS, item["id"]
        assert datetime.fromisoformat(item["now"]).tzinfo is None, item["id"]
        ZoneInfo(item["tz"])
        assert item.get("known_gap", "x").strip(), f"{item['id']}: an empty known_gap"


@pytest.mark.parametrize("item", [_case(item) for item in ITEMS])
def test_corpus_item(item: dict[str, Any]) -> None:
    now = datetime.fromisoformat(item["now"])
    reading = parse_utterance(item["text"], now, item["tz"]).to_json()
    assert mismatches(item, reading) == [], f"{item['text']!r} -> {reading}"


def test_comparison_accepts_equivalent_notations() -> None:
    item = {
        "tz": "America/New_York",
        "expect": {
            "title": "The gym task",
            "due_at": "2026-11-29T22:00:00Z",
            "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO,WE",
            "filters": {"tags": ["a", "b"], "due_after": "2026-11-29", "is_recurring": True},
        },
    }
    reading = {
        "title": "gym",
        "due_at": "2026-11-29T17:00:00-05:00",
        "recurrence_rule": "FREQ=WEEKLY;BYDAY=WE,MO;BYHOUR=17",
        "filters": {"tags": "b,a", "due_after": "2026-11-29T00:00:00", "is_recurring": 1, "x": 1},
    }
    assert mismatches(item, reading) == []


def test_comparison_rejects_a_different_rule() -> None:
    item = {
        "tz": "Europe/Berlin",
        "expect": {"due_at": "2026-12-04T07:00:00+01:00", "recurrence_rule": "FREQ=WEEKLY"},
    }
    reading = {"due_at": "2026-12-04T07:00:00+01:00", "recurrence_rule": "FREQ=WEEKLY;INTERVAL=2"}
    assert mismatches(item, reading) == [
        "recurrence_rule: expected 'FREQ=WEEKLY', got 'FREQ=WEEKLY;INTERVAL=2'"
    ]
