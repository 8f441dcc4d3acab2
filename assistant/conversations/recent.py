"""The recent messages of the conversations this process answered, so that the
next turn of a conversation does not read them back from the database.

An entry is used only when the client names the answer it last saw
(`last_answer_id`) and that is the answer this process gave last in the
conversation. Whatever else happened in between (a turn answered by another
process, or a client that has not seen the last answer) makes the ids differ,
and the turn reads the conversation from the database as before. Two turns of
one conversation that overlap do not both keep their view: the second to end
finds the entry changed and drops it.

Entries are kept in the order they were used, and the oldest are dropped once
all of them together hold more than `max_messages` messages.
"""

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.messages import Message


@dataclass(frozen=True, slots=True)
class _Entry:
    user_id: uuid.UUID
    answer_id: uuid.UUID
    messages: tuple[Message, ...]


class RecentMessages:
    def __init__(self, keep: int, max_messages: int = 50_000) -> None:
        self._keep = keep  # the messages a turn loads
        self._max_messages = max_messages
        self._entries: OrderedDict[uuid.UUID, _Entry] = OrderedDict()
        self._held = 0

    def last_answer(self, conversation_id: uuid.UUID) -> uuid.UUID | None:
        """The answer the entry ends with, if there is one (what a turn starts from)."""
        entry = self._entries.get(conversation_id)
        return None if entry is None else entry.answer_id

    def get(
        self, user_id: uuid.UUID, conversation_id: uuid.UUID, last_answer_id: uuid.UUID | None
    ) -> list[Message] | None:
        """The conversation's recent messages, if they end with `last_answer_id`."""
        entry = self._entries.get(conversation_id)
        if entry is None or last_answer_id is None:
            return None
        if entry.user_id != user_id or entry.answer_id != last_answer_id:
            return None
        self._entries.move_to_end(conversation_id)
        return list(entry.messages)

    def keep(
        self,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        started_from: uuid.UUID | None,
        messages: Sequence[Message],
        answer_id: uuid.UUID | None,
    ) -> None:
        """A turn that started when the entry ended with `started_from` (None: no
        entry) wrote ahead `messages`, the conversation's recent ones; it ended
        with `answer_id` (None: without an answer). Kept only when nothing else
        changed the entry meanwhile and there is an answer to name it by."""
        unchanged = self.last_answer(conversation_id) == started_from
        self.forget(conversation_id)
        if not unchanged or answer_id is None:
            return
        kept = tuple(messages[-self._keep :])
        self._entries[conversation_id] = _Entry(user_id, answer_id, kept)
        self._held += len(kept)
        while self._held > self._max_messages and self._entries:
            _, oldest = self._entries.popitem(last=False)
            self._held -= len(oldest.messages)

    def forget(self, conversation_id: uuid.UUID) -> None:
        entry = self._entries.pop(conversation_id, None)
        if entry is not None:
            self._held -= len(entry.messages)


__all__ = ["RecentMessages"]
