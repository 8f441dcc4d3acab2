"""`POST /api/chat` (server-sent events; docs/reference.md, Chat) and the chat history.

The turn runs as the response's data sender, writing events into a memory
stream the response reads from; it always ends with `done` or `error`, and a
client that goes away cancels it (what already ran is still saved). The history
routes first fold the caller's turns still written ahead, so they read what
every `done` promised.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from assistant.chat import Assistant
from assistant.conversations import store
from assistant.conversations.schemas import (
    ConversationPage,
    ConversationPublic,
    MessagePage,
    MessagePublic,
    ToolCallPublic,
    page_of,
)
from assistant.messages import Message
from assistant.stream import ChatEvent
from services.errors import NotFound
from services.shared.api_deps import ContainerDep, CurrentUser
from services.shared.timeutil import hour_cycle

router = APIRouter(prefix="/api", tags=["assistant"])
_bearer = HTTPBearer(auto_error=False)
MAX_BODY_MESSAGE = 100_000  # the real limit (CHAT_MAX_MESSAGE_CHARS) is checked with its reason


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_BODY_MESSAGE)
    conversation_id: uuid.UUID | None = None
    last_answer_id: uuid.UUID | None = Field(
        default=None,
        description="The `message_id` of the last `done` this client saw in the conversation. "
        "Optional: when the process that gave that answer takes the turn, it does not read "
        "the conversation back from the database.",
    )


def assistant_of(app: FastAPI) -> Assistant:
    found: Assistant | None = getattr(app.state, "assistant", None)
    if found is None:
        found = Assistant.for_container(app.state.container)
        app.state.assistant = found
    return found


@asynccontextmanager
async def assistant_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build the assistant with the app (its `state.container` must be set), close it after."""
    assistant = assistant_of(app)
    await assistant.start()
    try:
        yield
    finally:
        await assistant.aclose()
        del app.state.assistant


async def _assistant(request: Request) -> Assistant:
    return assistant_of(request.app)


AssistantDep = Annotated[Assistant, Depends(_assistant)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@router.post(
    "/chat",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "chat events"},
        404: {"description": "No such conversation"},
    },
)
async def chat(
    body: ChatRequest,
    request: Request,
    user: CurrentUser,
    assistant: AssistantDep,
    credentials: Credentials,
) -> EventSourceResponse:
    """Talk to the assistant: answers `token`, `tool_call`, `tool_result`, `confirm`,
    then `done` (or `error`) as server-sent events. Times in the answer are
    written as the account's `time_format` says; "auto" follows the request's
    Accept-Language, as the page's own times follow the browser's locale."""
    cycle = hour_cycle(user.time_format, request.headers.get("accept-language"))
    user = replace(user, time_format=cycle)
    turn = await assistant.open_turn(
        user,
        body.message,
        conversation_id=body.conversation_id,
        token=credentials.credentials if credentials else None,
        last_answer_id=body.last_answer_id,
    )
    send, receive = anyio.create_memory_object_stream[ChatEvent](64)

    # Events pass without a turn of the event loop each while the buffer has
    # room or holds some (`*_nowait`): on a busy server every such turn waits
    # behind all the other requests' work, and a turn has a dozen events.
    async def emit(event: ChatEvent) -> None:
        # A reader that left must not stop the turn half-way: it finishes and is saved.
        with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            try:
                send.send_nowait(event)
            except anyio.WouldBlock:
                await send.send(event)

    async def produce() -> None:
        async with send:
            await turn.run(emit)

    async def content() -> AsyncIterator[dict[str, str]]:
        async with receive:
            while True:
                try:
                    try:
                        event = receive.receive_nowait()
                    except anyio.WouldBlock:
                        event = await receive.receive()
                except anyio.EndOfStream:
                    return
                yield event.to_sse()

    return EventSourceResponse(content(), data_sender_callable=produce)


def _conversation(found: store.Conversation) -> ConversationPublic:
    return ConversationPublic(
        id=found.id,
        title=found.title,
        message_count=found.message_count,
        created_at=found.created_at,
        updated_at=found.updated_at,
    )


def _message(message: Message) -> MessagePublic:
    return MessagePublic(
        id=message.id,
        role=message.role,
        content=message.content,
        tool_calls=[ToolCallPublic(**c.to_json()) for c in message.tool_calls],
        tool_call_id=message.tool_call_id,
        created_at=message.created_at,
    )


Page = Annotated[int, Query(ge=1, le=1_000_000)]


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    user: CurrentUser,
    container: ContainerDep,
    assistant: AssistantDep,
    page: Page = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ConversationPage:
    """The caller's conversations, most recently active first."""
    await assistant.settle(user.user_id)
    async with container.reading() as uow:
        found, total = await store.list_conversations(
            uow.connection, user.user_id, page=page, limit=limit
        )
    page_: ConversationPage = page_of(
        ConversationPage, [_conversation(c) for c in found], total, page, limit
    )
    return page_


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: uuid.UUID,
    user: CurrentUser,
    container: ContainerDep,
    assistant: AssistantDep,
    page: Page = 1,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    """One of the caller's conversations, oldest message first."""
    await assistant.settle(user.user_id)
    async with container.reading() as uow:
        found = await store.get(uow.connection, user.user_id, conversation_id)
        if found is None:
            raise NotFound(f"no conversation {conversation_id}")
        messages = await store.list_messages(uow.connection, found, page=page, limit=limit)
    page_: MessagePage = page_of(
        MessagePage, [_message(m) for m in messages], found.message_count, page, limit
    )
    return page_


__all__ = ["AssistantDep", "ChatRequest", "assistant_lifespan", "assistant_of", "router"]
