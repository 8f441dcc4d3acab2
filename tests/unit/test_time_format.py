"""How a time of day is written: the account's choice, else the reader's locale."""

from datetime import datetime

import pytest

from services.shared.timeutil import clock, hour_cycle, locale_hour_cycle


@pytest.mark.parametrize(
    ("accept_language", "cycle"),
    [
        ("en-US,en;q=0.9", "12h"),
        ("en-GB,en;q=0.9", "24h"),
        ("de-DE", "24h"),
        ("ja-JP", "24h"),
        ("de;q=0.4, en-US;q=0.8", "12h"),  # the most wanted language decides
        ("xx-Unknown, en-US;q=0.5", "12h"),  # languages CLDR does not know are passed over
        ("en-US;q=0, de", "24h"),  # q=0 means "not this one"
        ("*", "24h"),
        ("", "24h"),
        (None, "24h"),
        ("garbage;;;,,q=", "24h"),
    ],
)
def test_the_locale_decides_when_the_account_says_auto(
    accept_language: str | None, cycle: str
) -> None:
    assert locale_hour_cycle(accept_language) == cycle
    assert hour_cycle("auto", accept_language) == cycle


def test_the_accounts_choice_wins_over_the_locale() -> None:
    assert hour_cycle("24h", "en-US") == "24h"
    assert hour_cycle("12h", "de-DE") == "12h"


@pytest.mark.parametrize(
    ("hour", "minute", "twelve", "twenty_four"),
    [(0, 5, "12:05 AM", "00:05"), (12, 0, "12:00 PM", "12:00"), (17, 30, "5:30 PM", "17:30")],
)
def test_clock(hour: int, minute: int, twelve: str, twenty_four: str) -> None:
    moment = datetime(2031, 5, 6, hour, minute)
    assert clock(moment, "12h") == twelve
    assert clock(moment, "24h") == twenty_four
