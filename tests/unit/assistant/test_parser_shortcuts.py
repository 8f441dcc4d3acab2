"""The parser's shortcuts: cheap checks that skip rules which cannot match.

Each check must say "maybe" wherever one of its rules matches, so reading a sentence
with the shortcut gives the same answer as reading it with every rule tried. These
tests read each sentence both ways.
"""

from collections.abc import Callable
from datetime import datetime

import pytest

from assistant.parsing import attributes, chatter, datetimes
from assistant.parsing.clock import Clock
from tests.unit.assistant.test_parser_corpus import ITEMS

CORPUS = [item["text"] for item in ITEMS]

PRIORITY_PHRASES = [
    "fix the roof, high priority",
    "fix the roof high-prio",
    "Pay rent P1",
    "pay rent, p4",
    "call mom priority: low",
    "call mom prio=2",
    "book flights, not urgent",
    "book flights no rush",
    "book flights without priority",
    "book flights, URGENT",
    "book flights asap!",
    "Important: call the bank",
    "it's super critical, renew the passport",
    "renew passport, make it top pri",
    "renew passport (urgently)",
    "prepare important documents",
    "buy milk",
    "paint the fence",
]
TAG_PHRASES = [
    "call the plumber tagged home",
    "call the plumber TAGGED with home, urgent",
    "call the plumber labeled as home",
    "call the plumber labelled home and diy",
    "call the plumber with the tags home, diy",
    "call the plumber tags: home",
    "call the plumber #home #diy",
    "call the plumber",
    "stage the release",
]
POLITE_ENDINGS = [
    "buy milk please",
    "buy milk, PLS",
    "buy milk plz!",
    "buy milk thanks",
    "buy milk, thank  you.",
    "buy milk thx",
    "buy milk for me",
    "buy milk for\tme please",
    "buy milk",
    "book a table for mee",
    "thank the team",
]
CLOCK_TIMES = [
    "call mom at 5pm",
    "call mom at 17:30",
    "call mom at noon",
    "lunch with Ana at lunchtime",
    "call mom at midnight",
    "call mom @ 9",
    "call mom at 7 o'clock",
    "call mom at \u0665pm",  # digits of another script
    "call mom at \u0665",
    "call mom at 1\u0665:30",
    "call mom in the evening",
    "call mom",
]


def _both_ways(
    monkeypatch: pytest.MonkeyPatch, module: object, check: str, read: Callable[[], object]
) -> tuple[object, object]:
    fast = read()
    with monkeypatch.context() as patched:
        patched.setattr(module, check, lambda text: True)
        slow = read()
    return fast, slow


@pytest.mark.parametrize("text", CORPUS + PRIORITY_PHRASES)
@pytest.mark.parametrize("loose", [False, True])
def test_priority_hint_never_hides_a_priority(
    monkeypatch: pytest.MonkeyPatch, text: str, loose: bool
) -> None:
    fast, slow = _both_ways(
        monkeypatch,
        attributes,
        "_may_name_priority",
        lambda: attributes.extract_priority(text, loose=loose),
    )
    assert fast == slow


@pytest.mark.parametrize("text", CORPUS + TAG_PHRASES)
def test_tag_hint_never_hides_a_tag(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    fast, slow = _both_ways(
        monkeypatch, attributes, "_may_name_tags", lambda: attributes.extract_tags(text)
    )
    assert fast == slow


def test_the_tag_phrases_are_read() -> None:
    tagged = [text for text in TAG_PHRASES if attributes.extract_tags(text)[0]]
    assert len(tagged) == len(TAG_PHRASES) - 2


def test_the_priority_phrases_are_read() -> None:
    """The phrases above do name priorities, so the check is tested where it matters."""
    named = [text for text in PRIORITY_PHRASES if attributes.extract_priority(text)[0]]
    assert len(named) == len(PRIORITY_PHRASES) - 3


@pytest.mark.parametrize("text", CORPUS + POLITE_ENDINGS)
def test_polite_hint_never_hides_a_polite_ending(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fast, slow = _both_ways(
        monkeypatch, chatter, "_may_end_politely", lambda: chatter.strip_politeness(text)
    )
    assert fast == slow


def test_the_polite_endings_are_stripped() -> None:
    stripped = [text for text in POLITE_ENDINGS if chatter.strip_politeness(text) != text]
    assert len(stripped) == len(POLITE_ENDINGS) - 3


@pytest.mark.parametrize("text", CORPUS + CLOCK_TIMES)
def test_digit_check_never_hides_a_clock_time(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    clock = Clock.create(datetime(2026, 12, 4, 10, 0), "Europe/Berlin")
    fast = datetimes.extract_when(text, clock)
    with monkeypatch.context() as patched:
        patched.setattr(datetimes, "_DIGIT", _AlwaysFound())
        slow = datetimes.extract_when(text, clock)
    assert fast == slow


class _AlwaysFound:
    def search(self, text: str) -> bool:
        return True
