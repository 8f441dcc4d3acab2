"""Reading and writing conversations on a unit of work's connection.

Every read names the user: a conversation id of another user is simply not
found, the same answer as an id that never existed.
"""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assistant.conversations import journal
from assistant.conversations.tables import chat_turns, conversation_messages, conversations
from assistant.messages import Message, ToolCall
from services.shared.db import conflict_insert

MAX_TITLE = 200


@dataclass(frozen=True, slots=True)
class Conversation:
    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    message_count: int
    created_at: datetime
    updated_at: datetime


def _conversation(row: sa.Row[tuple[object, ...]]) -> Conversation:
    m = row._mapping
    return Conversation(
        id=m["id"],
        user_id=m["user_id"],
        title=m["title"],
        message_count=m["message_count"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _message(row: sa.Row[tuple[object, ...]]) -> Message:
    m = row._mapping
    return Message(
        id=m["id"],
        role=m["role"],
        content=m["content"],
        tool_calls=tuple(ToolCall.from_json(c) for c in m["tool_calls"] or ()),
        tool_call_id=m["tool_call_id"],
        created_at=m["created_at"],
    )


_MESSAGE_COLUMNS = (
    conversation_messages.c.id,
    conversation_messages.c.role,
    conversation_messages.c.content,
    conversation_messages.c.tool_calls,
    conversation_messages.c.tool_call_id,
    conversation_messages.c.created_at,
)


def title_from(text: str) -> str:
    words = " ".join(text.split())
    return words if len(words) <= 80 else words[:79].rstrip() + "…"


async def get(
    conn: AsyncConnection, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> Conversation | None:
    row = (
        await conn.execute(
            sa.select(conversations).where(
                conversations.c.id == conversation_id, conversations.c.user_id == user_id
            )
        )
    ).first()
    return None if row is None else _conversation(row)


def _recent_query() -> sa.CompoundSelect[Any]:
    conversation_id = sa.bindparam("conversation_id", type_=sa.Uuid())
    user_id = sa.bindparam("user_id", type_=sa.Uuid())
    saved = (
        sa.select(
            sa.literal(0).label("pending"),
            conversation_messages.c.position.label("seq"),
            sa.type_coerce(sa.null(), sa.Text).label("payload"),
            *_MESSAGE_COLUMNS,
        )
        .join(conversations, conversations.c.id == conversation_messages.c.conversation_id)
        .where(
            conversation_messages.c.conversation_id == conversation_id,
            conversations.c.user_id == user_id,
        )
        .order_by(conversation_messages.c.position.desc())
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .subquery()
    )
    ahead = sa.select(
        sa.literal(1),
        chat_turns.c.id,
        chat_turns.c.payload,
        *(sa.null() for _ in _MESSAGE_COLUMNS),
    ).where(chat_turns.c.conversation_id == conversation_id, chat_turns.c.user_id == user_id)
    return sa.union_all(sa.select(saved), ahead)


def _exists_query() -> sa.Select[tuple[bool]]:
    conversation_id = sa.bindparam("conversation_id", type_=sa.Uuid())
    user_id = sa.bindparam("user_id", type_=sa.Uuid())
    saved = sa.exists().where(
        conversations.c.id == conversation_id, conversations.c.user_id == user_id
    )
    ahead = sa.exists().where(
        chat_turns.c.conversation_id == conversation_id, chat_turns.c.user_id == user_id
    )
    return sa.select(sa.or_(saved, ahead))


# Built once: a turn's reads only bind their values (no statement building per turn).
_RECENT = _recent_query()
_EXISTS = _exists_query()


async def recent_messages(
    conn: AsyncConnection, user_id: uuid.UUID, conversation_id: uuid.UUID, limit: int
) -> list[Message] | None:
    """The last `limit` messages, oldest first, with the turns still written ahead
    (`journal`); None when the conversation is not the user's.

    One query: the saved messages and the pending turns are one UNION, and the
    ownership check is the join, not a round trip of its own.
    """
    values = {"conversation_id": conversation_id, "user_id": user_id, "limit": limit}
    rows = (await conn.execute(_RECENT, values)).all()
    if not rows and await get(conn, user_id, conversation_id) is None:
        return None
    found = [_message(r) for r in sorted((r for r in rows if not r.pending), key=lambda r: r.seq)]
    for row in sorted((r for r in rows if r.pending), key=lambda r: r.seq):
        found.extend(journal.messages_of(row.payload))
    return found[-limit:]


async def exists(conn: AsyncConnection, user_id: uuid.UUID, conversation_id: uuid.UUID) -> bool:
    """Whether the conversation is the user's, saved or with a turn written ahead."""
    values = {"conversation_id": conversation_id, "user_id": user_id}
    return bool((await conn.execute(_EXISTS, values)).scalar())


class ConversationOfAnotherUser(Exception):
    """A turn names a conversation id another user's conversation has; it is
    not folded (it stays written ahead, and is logged)."""


@functools.cache
def _bump(dialect: str) -> sa.Insert:
    """The conversation created on its first turn, or its message count raised
    on a later one, in one statement that returns the new count; nothing when
    the id is another user's conversation. Built once per dialect."""
    insert = conflict_insert(dialect, conversations)
    return insert.on_conflict_do_update(
        index_elements=[conversations.c.id],
        set_={
            "message_count": conversations.c.message_count + insert.excluded.message_count,
            "updated_at": insert.excluded.updated_at,
        },
        where=conversations.c.user_id == insert.excluded.user_id,
    ).returning(conversations.c.message_count)


async def append(
    conn: AsyncConnection,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    title: str,
    messages: Sequence[Message],
    now: datetime,
) -> None:
    """Add `messages` at the end, creating the conversation on its first turn.

    The positions come from an atomic increment of the conversation's count,
    so two turns of one conversation at the same time never share a position.
    """
    values = {
        "id": conversation_id,
        "user_id": user_id,
        "title": title_from(title)[:MAX_TITLE] or "Conversation",
        "message_count": len(messages),
        "created_at": now,
        "updated_at": now,
    }
    bumped = (await conn.execute(_bump(conn.dialect.name), values)).scalar_one_or_none()
    if bumped is None:
        raise ConversationOfAnotherUser(conversation_id)
    first = bumped - len(messages) + 1
    if messages:
        await conn.execute(
            conversation_messages.insert(),
            [
                {
                    "id": message.id,
                    "conversation_id": conversation_id,
                    "position": first + offset,
                    "role": message.role,
                    "content": message.content,
                    "tool_calls": [c.to_json() for c in message.tool_calls] or None,
                    "tool_call_id": message.tool_call_id,
                    "created_at": message.created_at,
                }
                for offset, message in enumerate(messages)
            ],
        )


async def list_conversations(
    conn: AsyncConnection, user_id: uuid.UUID, *, page: int, limit: int
) -> tuple[list[Conversation], int]:
    mine = conversations.c.user_id == user_id
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(conversations).where(mine))
    ).scalar_one()
    rows = (
        await conn.execute(
            sa.select(conversations)
            .where(mine)
            .order_by(conversations.c.updated_at.desc(), conversations.c.id)
            .offset((page - 1) * limit)
            .limit(limit)
        )
    ).all()
    return [_conversation(row) for row in rows], total


async def list_messages(
    conn: AsyncConnection, conversation: Conversation, *, page: int, limit: int
) -> list[Message]:
    rows = (
        await conn.execute(
            sa.select(conversation_messages)
            .where(conversation_messages.c.conversation_id == conversation.id)
            .order_by(conversation_messages.c.position)
            .offset((page - 1) * limit)
            .limit(limit)
        )
    ).all()
    return [_message(row) for row in rows]


__all__ = [
    "Conversation",
    "ConversationOfAnotherUser",
    "append",
    "exists",
    "get",
    "list_conversations",
    "list_messages",
    "recent_messages",
    "title_from",
]
