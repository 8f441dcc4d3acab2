"""The chat-events the assistant writes to the outbox (docs/reference.md, Events)."""

import uuid
from typing import Any

from events import CloudEvent, EventType, new_event

SOURCE = "/task-api/assistant"


def _event(
    kind: EventType, user_id: uuid.UUID, conversation_id: uuid.UUID, **data: Any
) -> CloudEvent:
    return new_event(
        kind,
        source=SOURCE,
        user_id=user_id,
        subject=conversation_id,
        data={"conversation_id": str(conversation_id), **data},
    )


def received(
    user_id: uuid.UUID, conversation_id: uuid.UUID, message_id: uuid.UUID, text: str
) -> CloudEvent:
    return _event(
        EventType.CHAT_MESSAGE_RECEIVED,
        user_id,
        conversation_id,
        message_id=str(message_id),
        text=text,
    )


def tool_called(
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    *,
    call_id: str,
    tool: str,
    arguments: Any,
    ok: bool,
    confirmed: bool,
) -> CloudEvent:
    return _event(
        EventType.CHAT_TOOL_CALLED,
        user_id,
        conversation_id,
        call_id=call_id,
        tool=tool,
        arguments=arguments,
        ok=ok,
        confirmed=confirmed,
    )


def answered(
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    *,
    mode: str,
    tool_calls: int,
    awaiting_confirmation: bool,
) -> CloudEvent:
    return _event(
        EventType.CHAT_MESSAGE_ANSWERED,
        user_id,
        conversation_id,
        message_id=str(message_id),
        mode=mode,
        tool_calls=tool_calls,
        awaiting_confirmation=awaiting_confirmation,
    )


__all__ = ["SOURCE", "answered", "received", "tool_called"]
