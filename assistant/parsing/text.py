"""Small text helpers: normalising input, cutting parsed phrases out, tidying leftovers."""

import re
import unicodedata
from collections.abc import Iterable

from assistant.parsing.lexicon import LEADING_FILLERS, NUMBER_WORDS, TRAILING_TASK_WORDS

MAX_INPUT = 2000
MAX_TITLE = 500

_QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"',
        "\u201e": '"', "\u2013": "-", "\u2014": "-",
    }
)  # fmt: skip
_SPACES = re.compile(r"\s+")
_EDGE_JUNK = " \t,;:.!?-/|\"'()[]{}"
_DANGLING_WORDS = re.compile(
    r"(?:^|\s)(?:and|or|at|by|due|until|till|starting|then|also)\s*$", re.IGNORECASE
)
_DANGLING_REF_WORDS = re.compile(r"(?:^|\s)(?:to|for|from|on|with|into|as|in)\s*$", re.IGNORECASE)
_LEADING_FILLER = re.compile(rf"^(?:(?:{'|'.join(LEADING_FILLERS)})\s+)+", re.IGNORECASE)
_NAMED_TASK = re.compile(
    r"^(?:(?:task|todo|to-do|item|one|reminder)\s+(?:called|named|titled|about|for|that\s+says)"
    r"|(?:task|todo|to-do)\s*:?)\s+",
    re.IGNORECASE,
)
_TRAILING_TASK = re.compile(
    rf"(?:\s+|^)(?:{'|'.join(re.escape(w) for w in TRAILING_TASK_WORDS)})$", re.IGNORECASE
)
_QUOTED = re.compile(r"""^(["'])(?P<inner>.+)\1$""")
_STOPS = frozenset(",;:.!?")
_SPACE_BEFORE_STOP = re.compile(r"\s+([,;:.!?])")
_REPEATED_SEPARATORS = re.compile(r"([,;:])(?:\s*[,;:])+")
_EMPTY_CLAUSE = re.compile(r"\s*,\s*(?=,|$)")


def normalize(text: object) -> str:
    """Printable, single-spaced text with straight quotes (and bounded length)."""
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFKC", text[:MAX_INPUT]).translate(_QUOTES)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    return single_spaced(text)


def single_spaced(text: str) -> str:
    """Runs of whitespace as one space, none at the ends."""
    return " ".join(text.split())


_GROUP_NAME = re.compile(r"\(\?P<\w+>")
_ESCAPE = re.compile(r"\\.")


class WordFinder:
    """Where a word starts that any of `patterns` would match from, in one scan instead
    of one per pattern. Each pattern must only match from the start of a word, unless
    `word_start` is False (for patterns anchored some other way, such as with "^").

    It says where to look; match the patterns themselves there for their groups.
    ASCII text is scanned lower-cased without IGNORECASE, which is much faster.
    """

    __slots__ = ("_any_case", "_lower_case")

    def __init__(self, patterns: Iterable[re.Pattern[str]], *, word_start: bool = True) -> None:
        parts = []
        flags = 0
        for pattern in patterns:
            # Group names repeat across the patterns; the start of a word is tested once.
            source = pattern.pattern.removeprefix(r"\b") if word_start else pattern.pattern
            parts.append(_GROUP_NAME.sub("(?:", source))
            flags |= pattern.flags
        source = "|".join(f"(?:{part})" for part in parts)
        source = rf"(?=\w)\b(?:{source})" if word_start else source
        self._any_case = re.compile(source, flags | re.IGNORECASE)
        literal_upper = any(ch.isupper() for ch in _ESCAPE.sub("", source))
        self._lower_case = None if literal_upper else re.compile(source, flags & ~re.IGNORECASE)

    def search(self, text: str, pos: int = 0) -> int | None:
        """The first place at or after `pos` where one of the patterns may match."""
        if self._lower_case is not None and text.isascii():
            found = self._lower_case.search(text.lower(), pos)
        else:
            found = self._any_case.search(text, pos)
        return None if found is None else found.start()


def squash(text: str) -> str:
    """Single spaces, no space before a comma or stop."""
    text = single_spaced(text)
    if _STOPS.isdisjoint(text):  # most leftovers: nothing to tidy
        return text
    text = _SPACE_BEFORE_STOP.sub(r"\1", text)
    return _REPEATED_SEPARATORS.sub(r"\1", text)


def cut(text: str, match: re.Match[str]) -> str:
    """`text` without the matched phrase."""
    return cut_span(text, match.start(), match.end())


def cut_span(text: str, start: int, end: int) -> str:
    """`text` without the characters from `start` to `end`."""
    return squash(f"{text[:start]} {text[end:]}")


def strip_edges(text: str, *, reference: bool = False) -> str:
    """Without leading/trailing punctuation and dangling connector words."""
    previous = None
    while previous != text:
        previous = text
        text = text.strip(_EDGE_JUNK)
        text = _DANGLING_WORDS.sub("", text)
        if reference:
            text = _DANGLING_REF_WORDS.sub("", text)
    return text


def tidy_title(text: str) -> str | None:
    """The user's words as a task title: trimmed, first letter capitalised."""
    text = strip_edges(squash(text))
    text = _EMPTY_CLAUSE.sub("", text)
    quoted = _QUOTED.match(text)
    if quoted:
        text = quoted.group("inner").strip()
    if not text or not any(ch.isalnum() for ch in text):
        return None
    text = text[:MAX_TITLE].rstrip()
    return text[0].upper() + text[1:]


def clean_reference(text: str) -> str | None:
    """A task reference without leading articles/possessives or a trailing 'task'."""
    text = strip_edges(squash(text), reference=True)
    quoted = _QUOTED.match(text)
    if quoted:
        text = quoted.group("inner").strip()
    previous = None
    while previous != text:
        previous = text
        text = _NAMED_TASK.sub("", _LEADING_FILLER.sub("", text))
        text = _TRAILING_TASK.sub("", text)
        text = strip_edges(text, reference=True)
    if not text or not any(ch.isalnum() for ch in text):
        return None
    return text[:MAX_TITLE]


def to_number(word: str) -> int | None:
    """'3' -> 3, 'three' -> 3, 'an' -> 1; None when it is not a small count."""
    word = _SPACES.sub(" ", word.strip().lower())
    if word.isdigit():
        return int(word) if len(word) <= 6 else None
    return NUMBER_WORDS.get(word)
