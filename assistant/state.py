"""Short-lived conversation state: what waits for the user's yes, what "the
second one" refers to, which task an unfinished request still needs, and the
conversation's last changes, for "undo".

It lives beside the conversation, not in it: it expires (a "yes" tomorrow
must not delete what was proposed today) and it is never sent to a model.
Stores: `MemoryStateStore` in one process, `DaprStateStore`
(`assistant.dapr_state`) across replicas when EVENT_BUS=dapr.
"""

import time
import uuid
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field


class HeldCall(BaseModel):
    name: str
    arguments: dict[str, Any]


class Pending(BaseModel):
    """Tool calls that wait for the user's yes."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    summary: str
    calls: list[HeldCall]


class ListedTask(BaseModel):
    id: str
    title: str


class Choice(BaseModel):
    """An offline request that names a task ambiguously: done once the user picks one."""

    intent: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Awaiting(BaseModel):
    """A question the offline assistant asked; the next message answers it.

    `wants` is what the answer supplies: "reminder" (when to remind), "due" (a due
    time, for a task that has none) or "change" (anything to change). The task is
    known (`task`) or still a reference to look up (`reference`).
    """

    intent: str
    wants: str
    task: ListedTask | None = None
    reference: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)


class ChangeStep(BaseModel):
    """One task change a tool made, and what it takes to revert it: `before`
    holds the values a "changed" step puts back."""

    kind: Literal["created", "deleted", "changed", "completed", "reopened"]
    task_id: str
    title: str
    before: dict[str, Any] = Field(default_factory=dict)


class Change(BaseModel):
    """What one turn changed: "undo" reverts all of it, last step first."""

    turn: str
    steps: list[ChangeStep]


class ConversationState(BaseModel):
    user_id: str
    pending: Pending | None = None
    listing: list[ListedTask] = Field(default_factory=list)
    choice: Choice | None = None
    awaiting: Awaiting | None = None
    # The conversation's recent changes, newest last (`assistant.undo`).
    changes: list[Change] = Field(default_factory=list)
    # Whether the previous turn changed something ("cancel that" then means undo).
    changed_last: bool = False

    @property
    def empty(self) -> bool:
        return (
            self.pending is None
            and not self.listing
            and self.choice is None
            and self.awaiting is None
            and not self.changes
        )


class StateStore(Protocol):
    async def load(self, key: str) -> ConversationState | None: ...

    async def save(self, key: str, state: ConversationState) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


def state_key(conversation_id: uuid.UUID) -> str:
    return f"chat-{conversation_id}"


class MemoryStateStore:
    """A dict with expiry: one process's conversations (the embedded setup)."""

    def __init__(self, ttl_seconds: float, *, max_entries: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, tuple[float, str]] = {}

    async def load(self, key: str) -> ConversationState | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, raw = entry
        if expires <= time.monotonic():
            del self._entries[key]
            return None
        return ConversationState.model_validate_json(raw)

    async def save(self, key: str, state: ConversationState) -> None:
        now = time.monotonic()
        if len(self._entries) >= self._max:
            # Drop what expired, then the oldest: memory stays bounded.
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            while len(self._entries) >= self._max:
                self._entries.pop(next(iter(self._entries)))
        self._entries.pop(key, None)
        self._entries[key] = (now + self._ttl, state.model_dump_json())

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def aclose(self) -> None:
        self._entries.clear()


__all__ = [
    "Awaiting",
    "Change",
    "ChangeStep",
    "Choice",
    "ConversationState",
    "HeldCall",
    "ListedTask",
    "MemoryStateStore",
    "Pending",
    "StateStore",
    "state_key",
]
