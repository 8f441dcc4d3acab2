"""Every item of the shared NL development corpus, judged by the corpus README's rules."""

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr

from assistant.parsing import parse_utterance

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "nl-corpus" / "dev.jsonl"
_LEADING = re.compile(r"^(?:(?:the|my|a|an|our|this|that)\s+)+")
_TRAILING = re.compile(r"\s+(?:task|todo|item)$")
_PUNCT = " \t\n.,;:!?\"'()[]{}-"


def _items() -> list[dict[str, Any]]:
    if not CORPUS.exists():
        return []
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _words(value: str | None) -> str | None:
    """A title or task reference as the README compares them."""
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


def test_corpus_is_present() -> None:
    assert len(ITEMS) >= 110, f"expected the development corpus at {CORPUS}"


@pytest.mark.parametrize("item", ITEMS, ids=[item["id"] for item in ITEMS])
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
