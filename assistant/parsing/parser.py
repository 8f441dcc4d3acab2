"""`parse_utterance`: one utterance in, one Reading out (never an exception for bad text)."""

import logging
import re
from collections.abc import Callable
from datetime import datetime

from assistant.parsing.adding import build_add
from assistant.parsing.chatter import is_chatter, is_small_talk, strip_politeness
from assistant.parsing.clock import Clock
from assistant.parsing.datetimes import extract_when
from assistant.parsing.finding import read_find
from assistant.parsing.reading import UNKNOWN, Reading
from assistant.parsing.references import read_reference
from assistant.parsing.reminder_requests import read_reminder
from assistant.parsing.spelling import mend
from assistant.parsing.text import normalize
from assistant.parsing.undo import read_undo
from assistant.parsing.updates import read_update

_log = logging.getLogger(__name__)

# Tried in order; the first that recognises the request wins. Adding is the fallback.
_READERS: tuple[Callable[[str, Clock], Reading | None], ...] = (
    read_reminder,
    read_find,
    read_reference,
    read_update,
)


def parse_utterance(text: str, now: datetime, tz: str) -> Reading:
    """Read `text` as said at `now` in the IANA zone `tz`.

    `now` is the wall-clock time in `tz` (naive) or any aware datetime. An unknown `tz`
    raises ValueError; anything the text says (or fails to say) yields a Reading, with
    intent "unknown" when it is not a task request.
    """
    clock = Clock.create(now, tz)
    try:
        return interpret(text, clock)
    except Exception:  # a reader bug must not take the conversation down
        _log.warning("could not read utterance %r", text, exc_info=True)
        return UNKNOWN


_LATE_REMINDER = re.compile(r"^(?P<when>.+?)[\s,]+(?P<ask>remind\s+me\b.*)$", re.IGNORECASE)


def _reminder_first(body: str, clock: Clock) -> str:
    """'at 5pm remind me to call dad' -> 'remind me to call dad at 5pm'."""
    m = _LATE_REMINDER.match(body)
    if m is None:
        return body
    when, rest = extract_when(m.group("when"), clock)
    if when is None or rest.strip(" ,"):
        return body
    return f"{m.group('ask')} {m.group('when')}"


def interpret(text: str, clock: Clock) -> Reading:
    """The reading of `text`; exceptions propagate (tests call this directly)."""
    body = normalize(text)
    polite = strip_politeness(body)
    if (undo := read_undo(body) or read_undo(polite)) is not None:
        return undo
    if is_small_talk(body):
        return UNKNOWN
    mended = _reminder_first(mend(polite), clock)
    if mended != body and is_small_talk(mended):
        return UNKNOWN
    body = mended
    for reader in _READERS:
        reading = reader(body, clock)
        if reading is not None:
            return reading
    if is_chatter(body):
        return UNKNOWN
    return build_add(body, clock) or UNKNOWN
