"""A chat turn from message to `done`: the one place both doors (HTTP, terminal) go through.

    assistant = Assistant.for_container(container)
    turn = await assistant.open_turn(user, "buy milk tomorrow", conversation_id=None)
    await turn.run(emit)            # emit(ChatEvent) for every event; never raises

`open_turn` fails fast (before any streaming) on what the caller got wrong: an
empty or oversized message, a conversation that is not theirs. `run` always
ends with `done` or `error`. Whatever happened is written ahead in one
statement before `done` (`conversations.journal`: from then on it survives a
crash) and folded into the conversation, with the chat events through the
outbox, in the background afterwards; a process starting folds what a stopped
one left, and the next turn and the history API see a turn not folded yet.
"""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio

from assistant import chat_events, stream
from assistant.config import AssistantSettings, assistant_settings
from assistant.confirmation import read_answer
from assistant.conversations import journal, store
from assistant.conversations.recent import RecentMessages
from assistant.dapr_state import DaprStateStore
from assistant.errors import AssistantError
from assistant.messages import Message, user
from assistant.offline import OfflineAgent
from assistant.offline.replies import CANCELLED
from assistant.redis_state import RedisStateStore
from assistant.state import ConversationState, MemoryStateStore, StateStore, state_key
from assistant.stream import ChatEvent
from assistant.tools import InProcessTools, RemoteTools, ToolOutcome, ToolSource
from assistant.tracing import Tracer, create_tracer
from assistant.turn import Agent, PlannedCall, Turn, execute, new_call_id, say
from events import CloudEvent
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
        self._folds: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()
        self.recent = RecentMessages(HISTORY_LOADED)

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
                port=container.settings.dapr_http_port,
                grpc_port=container.settings.dapr_grpc_port,
                ttl_seconds=settings.chat_state_ttl_seconds,
            )
        elif container.settings.redis_url:  # several processes share the pending questions
            state = RedisStateStore(
                container.settings.redis_url, ttl_seconds=settings.chat_state_ttl_seconds
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
        await self.recover()
        starting = getattr(self.tools, "start", None)
        if starting is not None:
            await starting()

    async def aclose(self) -> None:
        self._closing.set()  # what waits to be folded is folded now
        await self.settled()
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
        last_answer_id: uuid.UUID | None = None,
    ) -> "ChatTurn":
        """`last_answer_id`: the answer the client last saw in the conversation
        (its `done`'s `message_id`); when this process gave it, the history is
        not read back from the database."""
        text = message.strip()
        if not text:
            raise InvalidInput("message", "must not be empty")
        if len(text) > self.settings.chat_max_message_chars:
            limit = self.settings.chat_max_message_chars
            raise InvalidInput("message", f"must be at most {limit} characters")
        history: list[Message] | None = []
        started_from: uuid.UUID | None = None
        if conversation_id is not None and self.agent.uses_history:
            started_from = self.recent.last_answer(conversation_id)
            history = self.recent.get(user.user_id, conversation_id, last_answer_id)
            if history is None:
                async with self._reading() as uow:
                    history = await store.recent_messages(
                        uow.connection, user.user_id, conversation_id, HISTORY_LOADED
                    )
        elif conversation_id is not None:
            async with self._reading() as uow:
                if not await store.exists(uow.connection, user.user_id, conversation_id):
                    history = None
        if history is None:
            raise NotFound(f"no conversation {conversation_id}")
        conversation = conversation_id or uuid.uuid4()
        return ChatTurn(self, user, text, conversation, history, token, started_from)

    async def write_ahead(self, record: journal.TurnRecord) -> None:
        """The finished turn, durable in one statement (`done` waits for this only)."""
        async with self._reading() as uow:  # autocommit: the INSERT commits on its own
            await journal.write(uow.connection, record)

    async def fold(self, conversation_id: uuid.UUID) -> None:
        """The conversation's turns written ahead become its messages and chat events,
        in one transaction that also deletes them (a turn folded twice is impossible)."""
        async with self._open_uow() as uow:
            for turn in await journal.claim(uow.connection, conversation_id):
                first = turn.messages[0]
                await store.append(
                    uow.connection,
                    user_id=turn.user_id,
                    conversation_id=conversation_id,
                    title=first.content or "",
                    messages=turn.messages,
                    now=datetime.now(UTC),
                )
                uow.emit(*_chat_events(turn))
            await uow.commit()

    def fold_later(self, conversation_id: uuid.UUID) -> None:
        """Fold the conversation in the background (after `chat_fold_delay_seconds`)."""
        task = asyncio.get_running_loop().create_task(self._fold_in_background(conversation_id))
        self._folds.add(task)
        task.add_done_callback(self._folds.discard)

    async def _fold_in_background(self, conversation_id: uuid.UUID) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self.settings.chat_fold_delay_seconds)
        attempt = 0
        while True:
            try:
                await self.fold(conversation_id)
                return
            except Exception as exc:
                # The turn is safe in `chat_turns`: readers see it, and whatever is
                # not folded here is folded when the next process starts.
                attempt += 1
                if is_outage(exc) and not self._closing.is_set():
                    log.warning("folding a chat turn failed (%s); retrying", type(exc).__name__)
                    await asyncio.sleep(min(5.0, 0.1 * 2**attempt))
                    continue
                log.exception("could not fold a chat turn; it stays written ahead")
                return

    async def settled(self) -> None:
        """Until the folds started so far have ended."""
        while self._folds:
            await asyncio.gather(*self._folds, return_exceptions=True)

    async def settle(self, user_id: uuid.UUID) -> None:
        """Fold the user's pending turns now, before their conversations are read.

        A turn that cannot be folded stays written ahead (and is logged): the
        read goes on without it rather than failing."""
        async with self._reading() as uow:
            pending = await journal.pending_conversations(uow.connection, user_id)
        for conversation_id in pending:
            try:
                await self.fold(conversation_id)
            except Exception as exc:
                if is_outage(exc):
                    raise
                log.exception("could not fold a chat turn; it stays written ahead")

    async def recover(self) -> None:
        """Fold the turns a stopped process wrote ahead and did not fold."""
        try:
            async with self._reading() as uow:
                pending = await journal.pending_conversations(uow.connection)
            for conversation_id in pending:
                await self.fold(conversation_id)
        except Exception:
            log.exception("could not fold the chat turns written ahead; they are kept")
        else:
            if pending:
                log.info("folded the chat turns of %d conversations written ahead", len(pending))


def _chat_events(turn: journal.TurnRecord) -> list[CloudEvent]:
    first = turn.messages[0]
    user_id, conversation_id = turn.user_id, turn.conversation_id
    found = [chat_events.received(user_id, conversation_id, first.id, first.content or "")]
    for call in turn.calls:
        found.append(
            chat_events.tool_called(
                turn.user_id,
                turn.conversation_id,
                call_id=call.call_id,
                tool=call.name,
                arguments=call.arguments,
                ok=call.ok,
                confirmed=call.confirmed,
            )
        )
    if turn.answer_id is not None:
        found.append(
            chat_events.answered(
                turn.user_id,
                turn.conversation_id,
                turn.answer_id,
                mode=turn.mode,
                tool_calls=len(turn.calls),
                awaiting_confirmation=turn.confirming,
            )
        )
    return found


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
    started_from: uuid.UUID | None = None  # the last answer `recent` held as the turn began
    written: bool = field(default=False, init=False)  # written ahead, so there to fold

    async def run(self, emit: Emit) -> None:
        """Answer the message through `emit`; ends with `done` or `error`, never raises."""
        try:
            await self._run(emit)
        finally:
            if self.written:
                # Once `done` is handed on (or the turn was cancelled): the fold's
                # work never holds it up.
                self.assistant.fold_later(self.conversation_id)

    async def _run(self, emit: Emit) -> None:
        a = self.assistant
        trace = a.tracer.turn(
            user_id=str(self.user.user_id),
            conversation_id=str(self.conversation_id),
            input=self.text,
        )
        turn: Turn | None = None
        failure: str | None = None
        saving: asyncio.Task[str | None] | None = None
        key = state_key(self.conversation_id)
        stored = False
        try:
            state = await a.state.load(key)
            stored = state is not None
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
                # The turn is whole: it is written ahead while the tool session
                # closes and the conversation's state is kept, not after them.
                saving = self._save_soon(turn)
        except Exception as exc:
            failure = _failure(exc)
        finally:
            with anyio.CancelScope(shield=True):
                if saving is None:
                    saving = self._save_soon(turn)
                if turn is not None:
                    # Kept even when the turn failed: the changes its tools made
                    # before are real, and "undo" must still find them.
                    failure = await self._keep_state(key, stored, turn, failure)
                unsaved = await saving
                failure = failure or unsaved
                trace.end(
                    output=turn.answer.content if turn and turn.answer else None, error=failure
                )
        if failure is not None or turn is None or turn.answer is None:
            await emit(stream.error(failure or "the assistant did not answer"))
        else:
            await emit(stream.done(str(self.conversation_id), str(turn.answer.id)))

    async def _keep_state(
        self, key: str, stored: bool, turn: Turn, failure: str | None
    ) -> str | None:
        """Save what the conversation keeps across turns (a pending question, the
        changes "undo" reverts), or drop it once there is nothing left to keep."""
        a = self.assistant
        try:
            if turn.state.empty:
                if stored:  # nothing was kept for this conversation: nothing to delete
                    await a.state.delete(key)
            else:
                await a.state.save(key, turn.state)
        except Exception as exc:
            return failure or _failure(exc)
        return failure

    def _save_soon(self, turn: Turn | None) -> "asyncio.Task[str | None]":
        """Start writing the turn ahead; the task's result is why it could not be."""
        return asyncio.get_running_loop().create_task(self._save(turn))

    async def _save(self, turn: Turn | None) -> str | None:
        # The turn is written ahead in one statement; folding it into the
        # conversation happens after `done`. A database restarting or briefly
        # unreachable only delays the write: the turn waits for it (up to
        # SAVE_PATIENCE_SECONDS) instead of failing.
        a = self.assistant
        record = journal.TurnRecord(
            user_id=self.user.user_id,
            conversation_id=self.conversation_id,
            messages=turn.transcript if turn else [user(self.text)],
            calls=turn.calls if turn else [],
            answer_id=turn.answer.id if turn and turn.answer else None,
            mode=a.agent.mode,
            confirming=turn.confirming if turn else False,
        )
        deadline = anyio.current_time() + SAVE_PATIENCE_SECONDS
        attempt = 0
        while True:
            try:
                await a.write_ahead(record)
                self.written = True
                if a.agent.uses_history:
                    a.recent.keep(
                        self.user.user_id,
                        self.conversation_id,
                        self.started_from,
                        [*self.history, *record.messages],
                        record.answer_id,
                    )
                return None
            except Exception as exc:
                attempt += 1
                if is_outage(exc) and anyio.current_time() < deadline:
                    log.warning("saving a chat turn failed (%s); retrying", type(exc).__name__)
                    await anyio.sleep(min(2.0, 0.1 * 2**attempt))
                    continue
                log.exception("could not save a chat turn")
                return "the conversation could not be saved; try again"

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
