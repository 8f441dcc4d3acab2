"""What `/api/conversations` answers."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from assistant.messages import Role


class ConversationPublic(BaseModel):
    id: uuid.UUID
    title: str
    message_count: int
    created_at: datetime
    updated_at: datetime


class ConversationPage(BaseModel):
    items: list[ConversationPublic]
    total: int
    page: int
    limit: int
    pages: int


class ToolCallPublic(BaseModel):
    id: str
    name: str
    arguments: str


class MessagePublic(BaseModel):
    id: uuid.UUID
    role: Role
    content: str | None
    tool_calls: list[ToolCallPublic]
    tool_call_id: str | None
    created_at: datetime


class MessagePage(BaseModel):
    items: list[MessagePublic]
    total: int
    page: int
    limit: int
    pages: int


def pages(total: int, limit: int) -> int:
    return (total + limit - 1) // limit


def page_of(model: type[Any], items: list[Any], total: int, page: int, limit: int) -> Any:
    return model(items=items, total=total, page=page, limit=limit, pages=pages(total, limit))


__all__ = [
    "ConversationPage",
    "ConversationPublic",
    "MessagePage",
    "MessagePublic",
    "ToolCallPublic",
]
