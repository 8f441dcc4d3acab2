"""How a person points at tasks: "the dentist task", "the second one", "it", "all of them".

Positions ("the second one", "number 2", "2", "the last one") point into the
last list the assistant showed; "it" is the one task just shown or acted on;
"all"/"everything" (with what follows, e.g. "all tasks tagged work") is a bulk
reference. Anything else is words to search titles for.
"""

import re
from dataclasses import dataclass

_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "last": -1,
}
_WORDS = {number: word for word, number in _ORDINALS.items() if number > 0}
_NUMERIC_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b(?=\s+(?:one|task)\b)", re.IGNORECASE)
_POSITION = re.compile(
    r"^(?:the\s+)?(?:(?:number|no\.?|#)\s*)?(?P<n>\d{1,2}|"
    + "|".join(_ORDINALS)
    + r")(?:\s+(?:one|task|item))?(?:\s+please)?$"
)
_PRONOUNS = frozenset({"it", "that", "this", "that one", "this one", "that task", "this task"})
_BULK = re.compile(r"^(?:all|every|everything|them all|all of them)\b\s*(?P<rest>.*)$")
_FILLER = re.compile(r"^(?:of\s+)?(?:(?:my|the)\b\s*)?(?:(?:tasks?|todos?|of them|them)\b)?\s*")


@dataclass(frozen=True, slots=True)
class Bulk:
    """Every task, or every task a filter phrase selects ("tasks tagged work")."""

    phrase: str
    of_listing: bool


def spell_ordinals(text: str) -> str:
    """'the 2nd one' -> 'the second one': the parser reads '2nd' as a day of the month."""

    def word(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return _WORDS.get(number, match.group(0))

    return _NUMERIC_ORDINAL.sub(word, text)


def _clean(reference: str) -> str:
    text = re.sub(r"[\s.!?]+$", "", reference.strip().lower())
    return " ".join(text.split())


def position(reference: str) -> int | None:
    """1-based position, -1 for the last, None when this is not a position."""
    match = _POSITION.match(_clean(reference))
    if match is None:
        return None
    n = match.group("n")
    return int(n) if n.isdigit() else _ORDINALS[n]


def is_pronoun(reference: str) -> bool:
    return _clean(reference) in _PRONOUNS


def bulk(reference: str) -> Bulk | None:
    text = _clean(reference)
    if text == "them":
        return Bulk("", of_listing=True)
    match = _BULK.match(text)
    if match is None:
        return None
    rest = match.group("rest")
    of_listing = text.startswith(("them all", "all of them")) or rest in ("of them", "them")
    return Bulk(_FILLER.sub("", rest, count=1).strip(), of_listing=of_listing)


def search_words(reference: str) -> str:
    """The words to search titles for: without a trailing 'one'/'task'."""
    text = _clean(reference)
    text = re.sub(r"^(?:the|my)\s+", "", text)
    text = re.sub(r"\s+(?:one|task|item|todo)$", "", text)
    return text.strip(" \"'“”")


def pick(items_count: int, index: int) -> int | None:
    """The 0-based index a position names in a list of `items_count`, or None."""
    if index == -1:
        return items_count - 1 if items_count else None
    return index - 1 if 1 <= index <= items_count else None


__all__ = [
    "Bulk",
    "bulk",
    "is_pronoun",
    "pick",
    "position",
    "search_words",
    "spell_ordinals",
]
