"""Tags ("#work", "tagged work") and priorities ("p1", "urgent", "low priority")."""

import re
from typing import cast

from assistant.parsing.lexicon import LIST_JOINER, PRIORITY_LEVELS
from assistant.parsing.reading import Priority
from assistant.parsing.text import cut

_I = re.IGNORECASE
MAX_TAGS = 20
MAX_TAG_LENGTH = 50

_WORD = r"[^\W_][\w\-]*"
_HASHTAG = re.compile(rf"(?<![\w&#/])#(?P<tag>{_WORD})")
_NOT_A_TAG = (
    r"(?!(?:due|overdue|today|tomorrow|tonight|this|next|high|medium|low|priority|tasks?"
    r"|todos?|items?|and|or|that|which|with|for|in|on|by|from|p[1-4]|completed|done|finished"
    r"|recurring|repeating|urgent|important|active|open|pending|please|only|sorted)\b)"
)
_TAG_WORD = rf"{_NOT_A_TAG}#?{_WORD}"
_TAGGED = re.compile(
    r"\b(?:tagged(?:\s+(?:with|as))?|labell?ed(?:\s+(?:with|as))?"
    r"|with\s+(?:the\s+)?(?:tags?|labels?)|tags?\s*:)"
    rf"\s+(?P<list>{_TAG_WORD}(?:{LIST_JOINER}{_TAG_WORD})*)",
    _I,
)
_JOINER = re.compile(LIST_JOINER, _I)

_LEAD = r"(?:[,;]\s*)?(?:\b(?:with|as|at|is|a|it's|make\s+it)\s+)*"
_PRIORITY_RULES: tuple[re.Pattern[str], ...] = (
    re.compile(rf"{_LEAD}\b(?P<low>not\s+(?:urgent|important)|no\s+rush)\b", _I),
    re.compile(rf"{_LEAD}\b(?P<none>no|without)\s+priority\b", _I),
    re.compile(
        rf"{_LEAD}\b(?P<lvl>high|highest|top|medium|med|normal|low|lowest)"
        r"(?:\s*-\s*|\s+)(?:priority|prio|pri)\b",
        _I,
    ),
    re.compile(
        rf"{_LEAD}\b(?:priority|prio)\s*(?:[:=]|is|of|to)?\s*(?P<lvl>high|medium|low|[1-4]|none)\b",
        _I,
    ),
    re.compile(r"(?:[,;]\s*)?\bp(?P<lvl>[1-4])\b", _I),
)
_EMPHASIS = r"(?:(?:it's|it\s+is|this\s+is|very|super|really|most|extremely)\s+)*"
_STRICT_ADJECTIVE = re.compile(
    rf"(?:^|[,;:(\-!]|\s)\s*{_EMPHASIS}(?P<lvl>urgent(?:ly)?|important|asap|critical)"
    r"(?=\s*(?:[,;:)!.?]|$))"
    r"|^(?P<lvl2>urgent|important)\s*[:!,\-]",
    _I,
)
_LOOSE_ADJECTIVE = re.compile(r"\b(?P<lvl>urgent(?:ly)?|important|asap|critical)\b", _I)
# Every priority phrase above holds one of these, so text without them needs no rule.
_PRIORITY_HINT = re.compile(r"pri|urgent|important|rush|asap|critical|p[1-4]")
# Every tag phrase holds one of these.
_TAG_HINT = re.compile(r"tag|label")


def _may_hold(hint: re.Pattern[str], text: str) -> bool:
    """Whether `text` holds the (lower-case) hint of a rule."""
    if not text.isascii():  # IGNORECASE folds more than lower() does: let the rules say
        return True
    return hint.search(text.lower()) is not None


def _may_name_priority(text: str) -> bool:
    return _may_hold(_PRIORITY_HINT, text)


def _may_name_tags(text: str) -> bool:
    return _may_hold(_TAG_HINT, text)


def _add_tag(tags: list[str], raw: str) -> None:
    tag = raw.lstrip("#").strip("-").lower()[:MAX_TAG_LENGTH]
    if tag and tag not in tags and len(tags) < MAX_TAGS:
        tags.append(tag)


def extract_tags(text: str) -> tuple[tuple[str, ...], str]:
    """Tags named with '#word' or 'tagged word, word' and the text without them."""
    tags: list[str] = []
    while _may_name_tags(text) and (match := _TAGGED.search(text)) is not None:
        for word in _JOINER.split(match.group("list")):
            _add_tag(tags, word)
        text = cut(text, match)
    if "#" not in text:
        return tuple(tags), text
    for match in _HASHTAG.finditer(text):
        _add_tag(tags, match.group("tag"))
    return tuple(tags), _HASHTAG.sub(" ", text) if tags else text


def _level(word: str) -> Priority | None:
    word = word.lower()
    word = word.removesuffix("ly") if word.startswith("urgent") else word
    level = PRIORITY_LEVELS.get(word)
    return cast(Priority, level) if level else None


def extract_priority(text: str, *, loose: bool = False) -> tuple[Priority | None, str]:
    """The priority the text names, and the text without that phrase.

    With `loose`, "urgent"/"important" count anywhere (as in "urgent tasks"); otherwise
    only when they stand apart ("..., urgent"), so a title like "prepare important
    documents" keeps its words.
    """
    if not _may_name_priority(text):
        return None, text
    for pattern in _PRIORITY_RULES:
        match = pattern.search(text)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("low"):
            return "low", cut(text, match)
        if groups.get("none"):
            return "none", cut(text, match)
        level = _level(groups["lvl"])
        if level:
            return level, cut(text, match)
    adjective = (_LOOSE_ADJECTIVE if loose else _STRICT_ADJECTIVE).search(text)
    if adjective is not None:
        level = _level(adjective.group("lvl") or adjective.groupdict().get("lvl2") or "")
        if level:
            return level, cut(text, adjective)
    return None, text


def bare_priority(text: str) -> Priority | None:
    """A value that is nothing but a priority level: "high", "p1", "urgent"."""
    word = re.sub(r"[\s.!]+$", "", text.strip().lower())
    word = re.sub(r"^(?:a\s+|the\s+)", "", word)
    if re.fullmatch(r"p[1-4]", word):
        return _level(word[1])
    if word in ("no", "none") or word.isdigit():
        return None
    return _level(word)
