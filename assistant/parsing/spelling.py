"""Typos in the words that carry a request's meaning, mended before reading.

Only words in a place where one of those words belongs are mended, so a title is
left as it was typed: "remnd me" (a command before "me"), "on wednsday" (a day
after a word that introduces one), "decmber 30" (a month beside a number),
"high priorty" (a level before "priority"). A word is mended when exactly one
known word is within a small edit distance: 1 for words up to 7 letters, 2 for
longer ones.
"""

import re
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january", "february", "march", "april", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
_DAY_WORDS = (*_WEEKDAYS, *(f"{d}s" for d in _WEEKDAYS), "tomorrow", "weekday", "weekend")
_BEFORE_DAY = frozenset(
    {
        "on", "by", "next", "this", "every", "until", "till", "before", "after", "from",
        "last", "coming", "each", "other", "due", "starting", "and", "or",
    }
)  # fmt: skip
_BEFORE_MONTH = frozenset(
    {
        "in", "of", "since", "until", "till", "from", "by", "every", "each", "next", "this",
        "early", "late", "mid",
    }
)  # fmt: skip
_LEVELS = ("high", "highest", "medium", "low", "lowest", "urgent", "important", "normal")
# A command word, and the words that may follow it when it is one.
_COMMANDS: dict[str, frozenset[str]] = {
    "remind": frozenset({"me", "us"}),
    **{
        verb: frozenset(("the", "my", "it", "that", "this", "all", "everything", "every"))
        for verb in ("delete", "complete", "finish", "reschedule", "postpone", "rename", "reopen")
    },
}
_NUMBERISH = re.compile(r"^\d{1,4}(?:st|nd|rd|th)?$", re.IGNORECASE)
_MIN_LENGTH = 4
_KNOWN = frozenset((*_COMMANDS, *_DAY_WORDS, *_MONTHS, *_LEVELS, "priority"))
# Words beside which a known word may stand (numbers aside).
_AFTER_COMMAND = frozenset().union(*_COMMANDS.values())
_BEFORE_KNOWN = _BEFORE_DAY | _BEFORE_MONTH | frozenset(_LEVELS)
_BEFORE_LEVEL = frozenset({"priority", "prio"})


@lru_cache(maxsize=4096)
def _closest(word: str, known: tuple[str, ...]) -> str | None:
    """The one known word within the allowed distance of `word`; None on a tie or none."""
    best: list[str] = []
    best_distance = 3
    for candidate in known:
        limit = 1 if len(candidate) <= 7 else 2
        if abs(len(candidate) - len(word)) > limit:
            continue
        distance = Levenshtein.distance(word, candidate, score_cutoff=limit)
        if distance > limit:
            continue
        if distance < best_distance:
            best, best_distance = [candidate], distance
        elif distance == best_distance:
            best.append(candidate)
    return best[0] if len(best) == 1 else None


def _numberish(word: str) -> bool:
    return word[:1].isdigit() and _NUMBERISH.match(word) is not None


def _choices(before: str, after: str, *, first: bool) -> tuple[str, ...]:
    """The known words that belong between `before` and `after` (lower-cased)."""
    choices: tuple[str, ...] = ()
    if first:
        choices += tuple(verb for verb, follow in _COMMANDS.items() if after in follow)
    if before in _BEFORE_DAY:
        choices += _DAY_WORDS
    if before in _BEFORE_MONTH or _numberish(before) or _numberish(after):
        choices += _MONTHS
    if before in _LEVELS:
        choices += ("priority",)
    if after in _BEFORE_LEVEL:
        choices += _LEVELS
    return choices


def mend(text: str) -> str:
    """`text` with typos in command, day, month and priority words mended."""
    words = [t.strip(",.;:!?") for t in text.lower().split(" ")]
    last = len(words) - 1
    tokens: list[str] | None = None
    for at, word in enumerate(words):
        # A word spelled right needs nothing: no known word is within reach of another.
        if len(word) < _MIN_LENGTH or word in _KNOWN:
            continue
        before = words[at - 1] if at else ""
        after = words[at + 1] if at < last else ""
        if not (
            (at == 0 and after in _AFTER_COMMAND)
            or before in _BEFORE_KNOWN
            or after in _BEFORE_LEVEL
            or before[:1].isdigit()
            or after[:1].isdigit()
        ):
            continue  # no known word belongs here: the most common case, decided at once
        if not (word.isascii() and word.isalpha()):
            continue
        choices = _choices(before, after, first=at == 0)
        fixed = _closest(word, choices) if choices else None
        if fixed is not None:
            tokens = tokens or text.split(" ")
            tokens[at] = tokens[at].lower().replace(word, fixed)
            words[at] = fixed
    return text if tokens is None else " ".join(tokens)


__all__ = ["mend"]
