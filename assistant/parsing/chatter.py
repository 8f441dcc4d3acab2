"""What is not about tasks: greetings, thanks, general questions; and polite padding."""

import re

_I = re.IGNORECASE

_SMALL_TALK = """
    hi hello hey heya hiya howdy yo there thanks thank you thx ty cheers ok okay k kk cool
    great nice awesome perfect good morning afternoon evening night bye goodbye see ya later
    cya yes no yep yeah yup nope nah sure please lol haha hehe how are what's whats up sup
    that's thats all it for now so much very again help me can is fine well done wow oh hmm
    ah alright right got welcome doing going a lot bunch appreciate appreciated much
    sounds who what do can you i am i'm glad sorry oops whoops wrong window tab chat mistake
    ignore my bad didn't mean meant to typo
"""
_SMALL_TALK_WORDS = frozenset(_SMALL_TALK.split())
_WORD = re.compile(r"[a-z']+")
_DISMISSAL = re.compile(
    r"^(?:(?:undo|cancel|never\s*mind|stop|forget\s+it)(?:\s+(?:that|it|this))?"
    r"|(?:add|create|new|delete|remove|complete|skip|reopen|rename|move|update|change|edit"
    r"|mark|reschedule)(?:\s+(?:a|an|new))?(?:\s+(?:task|todo|one|item))?)[\s.!?]*$",
    _I,
)

_POLITE_PREFIX = re.compile(
    r"^(?:(?:please|pls|plz|kindly|(?:can|could|would|will)\s+(?:you|u)(?:\s+please)?"
    r"|(?:i'd|i\s+would)\s+like\s+(?:you\s+)?to|i\s+want\s+you\s+to"
    r"|(?:hi|hey|hello)(?:\s+there)?|ok(?:ay)?|so|oh|um+|uh+|alright|yo|also|and|quick(?:ly)?)"
    r"\b[\s,!:.\-]*)+",
    _I,
)
_POLITE_SUFFIX = re.compile(
    r"(?:[\s,]*\b(?:please|pls|plz|thanks|thank\s+you|thx|for\s+me))+[\s.!?]*$", _I
)
# Every polite ending above holds one of these, so text without them keeps its end.
_POLITE_HINT = re.compile(r"p(?:lease|ls|lz)|th(?:ank|x)|for\s+me", _I)


def _may_end_politely(text: str) -> bool:
    return _POLITE_HINT.search(text) is not None


_QUESTION_START = re.compile(
    r"^(?:what|what's|whats|who|who's|why|how|when|where|which|whose"
    r"|do\s+(?:i|you|we)|does|did|(?:can|could|would|will|should|shall)\s+(?:i|you|we|it)"
    r"|(?:is|are|was|were)\s+(?:there|it|this|that|i|you|we)|(?:have|has)\s+(?:i|you|we))\b",
    _I,
)
_CHATTER_START = re.compile(
    r"^(?:tell\s+me|explain|define|say|sing|translate|calculate"
    r"|i'm|i\s+am|i\s+was|it's|it\s+is|that's|that\s+is|this\s+is|you're|you\s+are"
    r"|i\s+think|i\s+feel|i\s+like|i\s+love|i\s+hate|my\s+name|lol|haha)\b",
    _I,
)


def is_small_talk(text: str) -> bool:
    """Only greetings, thanks, pleasantries, "never mind", or a bare command ("delete")."""
    if _DISMISSAL.match(text.strip()):
        return True
    words = _WORD.findall(text.lower())
    return all(word in _SMALL_TALK_WORDS for word in words)


def strip_politeness(text: str) -> str:
    """'please', 'can you', 'hi,' ... around the request itself."""
    text = _POLITE_PREFIX.sub("", text)
    if not _may_end_politely(text):
        return text.strip()
    return _POLITE_SUFFIX.sub("", text).strip()


def is_chatter(text: str) -> bool:
    """A question or remark that is not a task request."""
    stripped = text.strip()
    if stripped.endswith("?"):
        return True
    return bool(_QUESTION_START.match(stripped) or _CHATTER_START.match(stripped))
