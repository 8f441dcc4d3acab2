"""Typos in the words that carry a request's meaning, mended before reading.

Only words in a place where one of those words belongs are mended, so a title is
left as it was typed: "remnd me" (a command before "me"), "on wednsday" (a day
after a word that introduces one), "decmber 30" (a month beside a number),
"high priorty" (a level before "priority"). A word is mended when exactly one
known word is within a small edit distance: 1 for words up to 7 letters, 2 for
longer ones.
"""

import re
from collections.abc import Iterable

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
_WORD = re.compile(r"[A-Za-z]+")
_NUMBERISH = re.compile(r"^\d{1,4}(?:st|nd|rd|th)?$", re.IGNORECASE)
_MIN_LENGTH = 4
_KNOWN = frozenset((*_COMMANDS, *_DAY_WORDS, *_MONTHS, *_LEVELS, "priority"))


def _closest(word: str, known: Iterable[str]) -> str | None:
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


def _choices(words: list[str], at: int) -> tuple[str, ...]:
    """The known words that belong where `words[at]` stands (`words` lower-cased)."""
    before = words[at - 1] if at > 0 else ""
    after = words[at + 1] if at + 1 < len(words) else ""
    choices: list[str] = []
    if at == 0:
        choices += [verb for verb, follow in _COMMANDS.items() if after in follow]
    if before in _BEFORE_DAY:
        choices += _DAY_WORDS
    if before in _BEFORE_MONTH or _NUMBERISH.match(before) or _NUMBERISH.match(after):
        choices += _MONTHS
    if before in _LEVELS:
        choices.append("priority")
    if after in ("priority", "prio"):
        choices += _LEVELS
    return tuple(choices)


def mend(text: str) -> str:
    """`text` with typos in command, day, month and priority words mended."""
    tokens = text.split(" ")
    words = [t.strip(",.;:!?").lower() for t in tokens]
    changed = False
    for at, word in enumerate(words):
        # A word spelled right needs nothing: no known word is within reach of another.
        if len(word) < _MIN_LENGTH or word in _KNOWN or not _WORD.fullmatch(word):
            continue
        choices = _choices(words, at)
        if not choices:
            continue
        fixed = _closest(word, choices)
        if fixed is not None:
            tokens[at] = tokens[at].lower().replace(word, fixed)
            words[at], changed = fixed, True
    return " ".join(tokens) if changed else text


__all__ = ["mend"]
