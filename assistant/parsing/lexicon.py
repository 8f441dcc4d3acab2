"""Word lists and regular-expression fragments shared by the parser modules."""

from collections.abc import Iterable
from datetime import time
from typing import Final

from services.shared.timeutil import DUE_TIME_OF_DAY

DEFAULT_DUE_TIME: Final = DUE_TIME_OF_DAY
DEFAULT_REMIND_TIME: Final = time(9, 0)

WEEKDAYS: Final[dict[str, int]] = {
    "monday": 0, "mon": 0,
    "tuesday": 1, "tue": 1, "tues": 1,
    "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3,
    "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip
RRULE_DAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

MONTHS: Final[dict[str, int]] = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3,
    "april": 4, "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7,
    "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip

NUMBER_WORDS: Final[dict[str, int]] = {
    "a": 1, "an": 1, "one": 1, "a single": 1, "two": 2, "a couple of": 2, "couple of": 2,
    "a couple": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60,
    "ninety": 90, "hundred": 100,
}  # fmt: skip

ORDINAL_WORDS: Final[dict[str, int]] = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
    "fourth": 4, "4th": 4, "fifth": 5, "5th": 5, "last": -1,
    "second to last": -2, "second-to-last": -2, "2nd to last": -2, "next to last": -2,
    "next-to-last": -2, "penultimate": -2, "third to last": -3, "third-to-last": -3,
}  # fmt: skip

# Times of day named by a period word ("tomorrow morning", "tonight").
PERIOD_TIMES: Final[dict[str, time]] = {
    "morning": time(9, 0),
    "afternoon": time(15, 0),
    "evening": time(18, 0),
    "night": time(20, 0),
    "tonight": time(20, 0),
    "tonite": time(20, 0),
}
NAMED_TIMES: Final[dict[str, time]] = {
    "noon": time(12, 0),
    "midday": time(12, 0),
    "lunchtime": time(12, 0),
    "midnight": time(23, 59),
}

PRIORITY_LEVELS: Final[dict[str, str]] = {
    "high": "high", "highest": "high", "top": "high", "urgent": "high",
    "important": "high", "asap": "high", "critical": "high",
    "medium": "medium", "med": "medium", "normal": "medium",
    "low": "low", "lowest": "low",
    "1": "high", "2": "medium", "3": "low", "4": "none", "none": "none", "no": "none",
}  # fmt: skip

LEADING_FILLERS: Final = (
    "the", "my", "a", "an", "our", "this", "that", "your", "their", "his", "her",
)  # fmt: skip
TRAILING_TASK_WORDS: Final = ("task", "tasks", "todo", "to-do", "item")


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of the given words, longest first (so 'thurs' beats 'thu')."""
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(w.replace(" ", r"\s+").replace(".", r"\.") for w in ordered)


WEEKDAY_FULL: Final = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
WEEKDAY_ANY: Final = rf"(?:{_alternation(WEEKDAYS)})"
WEEKDAY_PLURAL: Final = r"(?:mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays)"
MONTH: Final = rf"(?:{_alternation(MONTHS)})"
NUMBER: Final = rf"(?:\d{{1,4}}|{_alternation(NUMBER_WORDS)})"
ORDINAL: Final = rf"(?:{_alternation(ORDINAL_WORDS)})"
DAY_OF_MONTH: Final = r"(?:[12]\d|3[01]|0?[1-9])"
PERIOD: Final = r"(?:morning|afternoon|evening|night)"
LIST_JOINER: Final = r"(?:\s*,\s*and\s+|\s*,\s*|\s*&\s*|\s*/\s*|\s+and\s+|\s+or\s+)"
