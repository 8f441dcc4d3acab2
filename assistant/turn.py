"""One chat turn's working state, shared by the model's loop and the offline assistant.

A turn collects what it will persist (`transcript`, `calls`) and runs tools
through `call_tool`, which traces each call; the chat service writes it ahead
in one statement when the turn ends and folds it into the conversation after `done`.
"""

import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from assistant import stream, undo
from assistant.config import AssistantSettings
from assistant.messages import Message, ToolCall, assistant, tool_result
from assistant.state import ConversationState, Pending
from assistant.stream import ChatEvent
from assistant.tools import ToolInfo, ToolOutcome, ToolSession
from assistant.tracing import TurnTrace
from services.shared.auth.principal import Principal
from services.shared.metrics import CHAT_TOOL_CALLS


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One tool call as `chat.tool.called` reports it."""

    call_id: str
    name: str
    arguments: Any
    ok: bool
    confirmed: bool


@dataclass(frozen=True, slots=True)
class PlannedCall:
    id: str
    name: str
    arguments: dict[str, Any]


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


@dataclass
class Turn:
    user: Principal
    conversation_id: uuid.UUID
    text: str
    now: datetime
    history: list[Message]
    tools: ToolSession
    state: ConversationState
    trace: TurnTrace
    settings: AssistantSettings
    transcript: list[Message] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    answer: Message | None = None
    confirming: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Whether the conversation's previous turn changed a task.
    after_change: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.after_change, self.state.changed_last = self.state.changed_last, False

    @cached_property
    def tool_map(self) -> dict[str, ToolInfo]:
        """The MCP tools, and the assistant's own `undo_last_change`."""
        return {tool.name: tool for tool in [*self.tools.tools, undo.INFO]}

    async def call_tool(
        self, call_id: str, name: str, arguments: dict[str, Any], *, confirmed: bool = False
    ) -> ToolOutcome:
        """Run one tool call; a change it makes is remembered for "undo"."""
        if name == undo.TOOL:
            return await self.undo(call_id)
        before = None
        if name in undo.READ_FIRST and "task_id" in arguments:
            found = await self.lookup("get_task", {"task_id": arguments["task_id"]})
            before = found.structured if found.ok else None
        outcome = await self._run(call_id, name, arguments, confirmed=confirmed)
        undo.remember(self.state, self.id, name, before, outcome)
        return outcome

    async def undo(self, call_id: str) -> ToolOutcome:
        """Revert the conversation's last change (`assistant.undo`)."""
        outcome = ToolOutcome(ok=False, text=undo.NOTHING)
        if self.state.changes:
            change = self.state.changes.pop()
            done = []
            for n, step in enumerate(reversed(change.steps), start=1):
                name, arguments = undo.inverse(step)
                inner = await self._run(f"{call_id}_{n}", name, arguments, confirmed=True)
                done.append((step, inner))
            outcome = undo.summary(done)
        CHAT_TOOL_CALLS.labels(tool=undo.TOOL, outcome="ok" if outcome.ok else "error").inc()
        return outcome

    async def _run(
        self, call_id: str, name: str, arguments: dict[str, Any], *, confirmed: bool
    ) -> ToolOutcome:
        span = self.trace.tool(name=name, arguments=arguments)
        outcome = await self.tools.call(name, arguments)
        span.end(output=outcome.result, error=None if outcome.ok else outcome.text)
        CHAT_TOOL_CALLS.labels(tool=name, outcome="ok" if outcome.ok else "error").inc()
        self.calls.append(CallRecord(call_id, name, arguments, outcome.ok, confirmed))
        return outcome

    async def lookup(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """A read the assistant makes for itself (a title for a question): traced only."""
        span = self.trace.tool(name=name, arguments=arguments)
        outcome = await self.tools.call(name, arguments)
        span.end(output=outcome.result, error=None if outcome.ok else outcome.text)
        return outcome

    def finish(self, text: str) -> Message:
        message = assistant(text)
        self.transcript.append(message)
        self.answer = message
        return message


async def execute(
    turn: Turn, calls: Sequence[PlannedCall], outcomes: list[ToolOutcome], *, confirmed: bool
) -> AsyncIterator[ChatEvent]:
    """Run `calls` as one tool-calling step: events out, transcript and outcomes in."""
    turn.transcript.append(
        Message(
            role="assistant",
            tool_calls=tuple(
                ToolCall(c.id, c.name, json.dumps(c.arguments, ensure_ascii=False)) for c in calls
            ),
        )
    )
    for call in calls:
        yield stream.tool_call(call.id, call.name, call.arguments)
        outcome = await turn.call_tool(call.id, call.name, call.arguments, confirmed=confirmed)
        yield stream.tool_result(call.id, outcome.ok, outcome.result)
        turn.transcript.append(tool_result(call.id, outcome.text))
        outcomes.append(outcome)


_CHUNK = re.compile(r"\S+\s*|\s+")
_SAID_PER_TOKEN = 120  # characters


async def say(turn: Turn, text: str) -> AsyncIterator[ChatEvent]:
    """Stream a prepared answer as `token` events of about a line each, cut
    between words: the whole answer is already there, and every event is a
    trip through the stream that a busy server makes the reader wait for."""
    chunk = ""
    for word in _CHUNK.findall(text):
        if chunk and len(chunk) + len(word) > _SAID_PER_TOKEN:
            yield stream.token(chunk)
            chunk = ""
        chunk += word
    if chunk:
        yield stream.token(chunk)
    turn.finish(text)


async def ask_to_confirm(turn: Turn, pending: Pending) -> AsyncIterator[ChatEvent]:
    turn.state.pending = pending
    turn.confirming = True
    yield stream.confirm(pending.id, pending.summary)
    turn.finish(pending.summary)


class Agent(Protocol):
    """What answers a turn: the model's loop, or the offline assistant."""

    mode: str
    uses_history: bool  # whether a turn needs the earlier messages (the offline one does not)

    def respond(self, turn: Turn) -> AsyncIterator[ChatEvent]: ...

    def confirmed(
        self, turn: Turn, pending: Pending, outcomes: list[ToolOutcome]
    ) -> AsyncIterator[ChatEvent]: ...


__all__ = [
    "Agent",
    "CallRecord",
    "PlannedCall",
    "Turn",
    "ask_to_confirm",
    "execute",
    "new_call_id",
    "say",
]
