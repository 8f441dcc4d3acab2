"""WordFinder: one scan that says where any of several patterns may match.

The day and repeat readers rely on it to skip sentences and places no rule applies to,
so it must never miss a place one of its patterns matches from.
"""

import re

import pytest

from assistant.parsing import days, references, repeats
from assistant.parsing.text import WordFinder

_I = re.IGNORECASE


def _earliest(patterns: list[re.Pattern[str]], text: str) -> int | None:
    starts = [m.start() for p in patterns if (m := p.search(text)) is not None]
    return min(starts, default=None)


@pytest.mark.parametrize(
    "text",
    [
        "pay rent on the 1st",
        "Pay RENT every Monday",
        "water the plants",
        "call mom tomorrow at 5",
        "Ünïcödé TOMORROW and friday",  # not ASCII: scanned without lower-casing
        "",
        "every",
    ],
)
def test_finds_the_earliest_place_any_pattern_matches(text: str) -> None:
    patterns = [
        re.compile(r"\b(?P<d>tomorrow|today)\b", _I),
        re.compile(r"\bevery\s+(?P<d>monday|friday)\b", _I),
        re.compile(r"\b(?:on\s+)?the\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b", _I),
        re.compile(r"(?:^|(?<=\s))(?P<d>friday)\b", _I),
    ]
    assert WordFinder(patterns).search(text) == _earliest(patterns, text)


def test_searches_from_a_position() -> None:
    finder = WordFinder([re.compile(r"\btoday\b", _I)])
    assert finder.search("today or today", 1) == 9
    assert finder.search("today or today", 10) is None


def test_only_places_where_a_word_starts() -> None:
    finder = WordFinder([re.compile(r"\bday\b", _I)])
    assert finder.search("someday") is None
    assert finder.search("some day") == 5


def test_a_pattern_with_capital_letters_keeps_case_insensitive_scanning() -> None:
    finder = WordFinder([re.compile(r"\b[A-Z]{3}\b", _I)])
    assert finder.search("meet at cet") == 8  # three letters: "cet", in any case
    assert finder.search("at noon") is None


@pytest.mark.parametrize(
    "text",
    [
        "Dentist on March 3rd at 2pm",
        "submit the report 2027-01-15",
        "every other Tuesday and Thursday",
        "pay the bills on the 15th of every month",
        "the day after tomorrow",
        "renew passport by end of june",
        "BOOK FLIGHTS NEXT WEEK",
        "garden mondays and wednesdays",
    ],
)
def test_the_readers_finders_agree_with_their_rules(text: str) -> None:
    day_rules = [rule.pattern for rule in (*days._DAY_RULES, days._MONTH_FIRST_RULE)]
    phrases = [pattern for pattern, _ in repeats._PHRASES]
    assert days._ANY_DAY.search(text) == _earliest(day_rules, text)
    assert repeats._ANY_PHRASE.search(text) == _earliest(phrases, text)


@pytest.mark.parametrize(
    "text",
    ["mark the report as done", "Skip yoga on Friday", '"taxes" is done', "buy milk"],
)
def test_the_reference_finder_agrees_with_its_rules(text: str) -> None:
    rules = [pattern for pattern, _, _ in references._RULES]
    found = references._ANY_RULE.search(text)
    assert (found is not None) == any(rule.match(text) for rule in rules)
