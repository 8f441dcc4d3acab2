"""What a chat turn streams (docs/reference.md, Chat), as values and as server-sent events."""

import json
from dataclasses import dataclass
from typing import Any, Literal

EventName = Literal["token", "tool_call", "tool_result", "confirm", "done", "error"]


@dataclass(frozen=True, slots=True)
class ChatEvent:
    event: EventName
    data: dict[str, Any]

    def to_sse(self) -> dict[str, str]:
        """The `event:`/`data:` pair sse-starlette writes."""
        return {"event": self.event, "data": json.dumps(self.data, ensure_ascii=False)}


def token(text: str) -> ChatEvent:
    return ChatEvent("token", {"text": text})


def tool_call(call_id: str, name: str, arguments: Any) -> ChatEvent:
    return ChatEvent("tool_call", {"id": call_id, "name": name, "arguments": arguments})


def tool_result(call_id: str, ok: bool, result: Any) -> ChatEvent:
    return ChatEvent("tool_result", {"id": call_id, "ok": ok, "result": result})


def confirm(confirmation_id: str, summary: str) -> ChatEvent:
    return ChatEvent("confirm", {"id": confirmation_id, "summary": summary})


def done(conversation_id: str, message_id: str) -> ChatEvent:
    return ChatEvent("done", {"conversation_id": conversation_id, "message_id": message_id})


def error(detail: str) -> ChatEvent:
    return ChatEvent("error", {"detail": detail})


__all__ = [
    "ChatEvent",
    "EventName",
    "confirm",
    "done",
    "error",
    "token",
    "tool_call",
    "tool_result",
]
