"""A chat turn from message to `done`: the one place both doors (HTTP, terminal) go through.

    assistant = Assistant.for_container(container)
    turn = await assistant.open_turn(user, "buy milk tomorrow", conversation_id=None)
    await turn.run(emit)            # emit(ChatEvent) for every event; never raises

`open_turn` fails fast (before any streaming) on what the caller got wrong: an
empty or oversized message, a conversation that is not theirs. `run` always
ends with `done` or `error`; whatever happened is written in one transaction
at the end of the turn: the messages, and the chat events through the outbox.
"""

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio

from assistant import chat_events, stream
from assistant.config import AssistantSettings, assistant_settings
from assistant.confirmation import read_answer
from assistant.conversations import store
from assistant.dapr_state import DaprStateStore
from assistant.errors import AssistantError
from assistant.messages import Message, user
from assistant.offline import OfflineAgent
from assistant.offline.replies import CANCELLED
from assistant.state import ConversationState, MemoryStateStore, StateStore, state_key
from assistant.stream import ChatEvent
from assistant.tools import InProcessTools, RemoteTools, ToolOutcome, ToolSource
from assistant.tracing import Tracer, create_tracer
from assistant.turn import Agent, CallRecord, PlannedCall, Turn, execute, new_call_id, say
from events.runtime import is_outage
from services.errors import InvalidInput, NotFound
from services.shared.auth.principal import Principal
from services.shared.context import AppContext
from services.shared.metrics import CHAT_TURNS
from services.shared.uow import UnitOfWork

log = logging.getLogger(__name__)
# How long a finished turn waits for an unreachable database to save it.
SAVE_PATIENCE_SECONDS = 20.0

HISTORY_LOADED = 200
Emit = Callable[[ChatEvent], Awaitable[None]]


class Assistant:
    def __init__(
        self,
        *,
        settings: AssistantSettings,
        open_uow: Callable[[], UnitOfWork],
        reading: Callable[[], UnitOfWork],
        agent: Agent,
        tools: ToolSource,
        state: StateStore,
        tracer: Tracer,
    ) -> None:
        self.settings = settings
        self.agent = agent
        self.tools = tools
        self.state = state
        self.tracer = tracer
        self._open_uow = open_uow
        self._reading = reading

    @classmethod
    def for_container(
        cls, container: AppContext, settings: AssistantSettings | None = None
    ) -> "Assistant":
        settings = settings or assistant_settings(container.settings)
        agent: Agent = OfflineAgent()
        if settings.model_enabled:
            from assistant.model_agent import ModelAgent

            agent = ModelAgent.from_settings(settings)
        tools: ToolSource = (
            RemoteTools(settings.mcp_url, timeout=settings.chat_model_timeout_seconds)
            if settings.mcp_url
            else InProcessTools(container.uow)
        )
        state: StateStore = MemoryStateStore(settings.chat_state_ttl_seconds)
        if container.settings.event_bus == "dapr":
            state = DaprStateStore(
                port=container.settings.dapr_http_port, ttl_seconds=settings.chat_state_ttl_seconds
            )
        secret = settings.langfuse_secret_key
        tracer = create_tracer(
            public_key=settings.langfuse_public_key,
            secret_key=secret.get_secret_value() if secret else None,
            host=settings.langfuse_host,
        )
        return cls(
            settings=settings,
            open_uow=container.uow,
            reading=container.reading,
            agent=agent,
            tools=tools,
            state=state,
            tracer=tracer,
        )

    async def start(self) -> None:
        """Open what is worth keeping across turns (the in-process MCP session)."""
        starting = getattr(self.tools, "start", None)
        if starting is not None:
            await starting()

    async def aclose(self) -> None:
        for part in (self.tools, self.agent):
            closing = getattr(part, "aclose", None)
            if closing is not None:
                await closing()
        await self.state.aclose()
        await self.tracer.aclose()

    async def open_turn(
        self,
        user: Principal,
        message: str,
        *,
        conversation_id: uuid.UUID | None = None,
        token: str | None = None,
    ) -> "ChatTurn":
        text = message.strip()
        if not text:
            raise InvalidInput("message", "must not be empty")
        if len(text) > self.settings.chat_max_message_chars:
            limit = self.settings.chat_max_message_chars
            raise InvalidInput("message", f"must be at most {limit} characters")
        history: list[Message] | None = []
        if conversation_id is not None:
            async with self._reading() as uow:
                if self.agent.uses_history:
                    history = await store.recent_messages(
                        uow.connection, user.user_id, conversation_id, HISTORY_LOADED
                    )
                elif await store.get(uow.connection, user.user_id, conversation_id) is None:
                    history = None
        if history is None:
            raise NotFound(f"no conversation {conversation_id}")
        return ChatTurn(self, user, text, conversation_id or uuid.uuid4(), history, token)

    async def persist(
        self,
        user_id: uuid.UUID,
        conversation_id: uuid.UUID,
        transcript: list[Message],
        calls: list[CallRecord],
        answer: Message | None,
        confirming: bool,
    ) -> None:
        """The turn's messages and chat events, in one transaction."""
        first = transcript[0]
        async with self._open_uow() as uow:
            await store.append(
                uow.connection,
                user_id=user_id,
                conversation_id=conversation_id,
                title=first.content or "",
                messages=transcript,
                now=datetime.now(UTC),
            )
            uow.emit(chat_events.received(user_id, conversation_id, first.id, first.content or ""))
            for call in calls:
                uow.emit(
                    chat_events.tool_called(
                        user_id,
                        conversation_id,
                        call_id=call.call_id,
                        tool=call.name,
                        arguments=call.arguments,
                        ok=call.ok,
                        confirmed=call.confirmed,
                    )
                )
            if answer is not None:
                uow.emit(
                    chat_events.answered(
                        user_id,
                        conversation_id,
                        answer.id,
                        mode=self.agent.mode,
                        tool_calls=len(calls),
                        awaiting_confirmation=confirming,
                    )
                )
            await uow.commit()


def _expected(exc: BaseException) -> AssistantError | None:
    # The MCP client's task groups wrap what the turn raised in exception groups.
    if isinstance(exc, AssistantError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := _expected(inner)) is not None:
                return found
    return None


def _failure(exc: Exception) -> str:
    expected = _expected(exc)
    if expected is not None:
        return expected.detail
    log.error("chat turn failed", exc_info=exc)
    return "the assistant failed; try again"


@dataclass
class ChatTurn:
    assistant: Assistant
    user: Principal
    text: str
    conversation_id: uuid.UUID
    history: list[Message]
    token: str | None

    async def run(self, emit: Emit) -> None:
        """Answer the message through `emit`; ends with `done` or `error`, never raises."""
        a = self.assistant
        trace = a.tracer.turn(
            user_id=str(self.user.user_id),
            conversation_id=str(self.conversation_id),
            input=self.text,
        )
        turn: Turn | None = None
        failure: str | None = None
        try:
            key = state_key(self.conversation_id)
            state = await a.state.load(key)
            if state is None or state.user_id != str(self.user.user_id):
                state = ConversationState(user_id=str(self.user.user_id))
            async with a.tools.connect(self.user, self.token) as tools:
                turn = Turn(
                    user=self.user,
                    conversation_id=self.conversation_id,
                    text=self.text,
                    now=datetime.now(UTC),
                    history=self.history,
                    tools=tools,
                    state=state,
                    trace=trace,
                    settings=a.settings,
                    transcript=[user(self.text)],
                )
                async for event in self._answer(turn):
                    await emit(event)
            if turn.state.empty:
                await a.state.delete(key)
            else:
                await a.state.save(key, turn.state)
        except Exception as exc:
            failure = _failure(exc)
        finally:
            with anyio.CancelScope(shield=True):
                failure = await self._finish(turn, failure)
                trace.end(
                    output=turn.answer.content if turn and turn.answer else None, error=failure
                )
        if failure is not None or turn is None or turn.answer is None:
            await emit(stream.error(failure or "the assistant did not answer"))
        else:
            await emit(stream.done(str(self.conversation_id), str(turn.answer.id)))

    async def _finish(self, turn: Turn | None, failure: str | None) -> str | None:
        # A database restarting or briefly unreachable only delays the save:
        # the turn waits for it (up to SAVE_PATIENCE_SECONDS) instead of failing.
        deadline = anyio.current_time() + SAVE_PATIENCE_SECONDS
        attempt = 0
        while True:
            try:
                await self.assistant.persist(
                    self.user.user_id,
                    self.conversation_id,
                    turn.transcript if turn else [user(self.text)],
                    turn.calls if turn else [],
                    turn.answer if turn else None,
                    turn.confirming if turn else False,
                )
                return failure
            except Exception as exc:
                attempt += 1
                if is_outage(exc) and anyio.current_time() < deadline:
                    log.warning("saving a chat turn failed (%s); retrying", type(exc).__name__)
                    await anyio.sleep(min(2.0, 0.1 * 2**attempt))
                    continue
                log.exception("could not save a chat turn")
                return failure or "the conversation could not be saved; try again"

    async def _answer(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        agent = self.assistant.agent
        CHAT_TURNS.labels(mode=agent.mode).inc()
        pending = turn.state.pending
        if pending is not None:
            # The user's next message decides; anything but a yes drops the proposal.
            turn.state.pending = None
            answer = read_answer(turn.text)
            if answer == "yes":
                outcomes: list[ToolOutcome] = []
                calls = [PlannedCall(new_call_id(), c.name, c.arguments) for c in pending.calls]
                async for event in execute(turn, calls, outcomes, confirmed=True):
                    yield event
                async for event in agent.confirmed(turn, pending, outcomes):
                    yield event
                return
            if answer == "no":
                async for event in say(turn, CANCELLED):
                    yield event
                return
        async for event in agent.respond(turn):
            yield event


__all__ = ["Assistant", "ChatTurn", "Emit"]
