"""Chat turns written ahead of their conversation.

A finished turn is one row of `chat_turns`, inserted in a single statement
before the turn's `done` goes out: from then on it survives the process. The
row is folded into `conversations` and `conversation_messages` afterwards
(`fold`), in the transaction that also writes the turn's chat events, and is
deleted by that same transaction, so a turn is folded exactly once however
many processes try. Until then the readers of a conversation see it through
`pending` (and `store.recent_messages`).

    await journal.write(conn, record)             # before `done`
    records = await journal.claim(conn, conversation_id)   # in the fold's transaction
"""

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assistant.conversations.tables import chat_turns
from assistant.messages import Message, ToolCall
from assistant.turn import CallRecord
from services.shared.db import driver_execute

log = logging.getLogger(__name__)
_INSERT = chat_turns.insert()
_COLUMNS = ("user_id", "conversation_id", "payload", "created_at")


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """Everything the fold writes for one turn."""

    user_id: uuid.UUID
    conversation_id: uuid.UUID
    messages: Sequence[Message]  # the user's message first
    calls: Sequence[CallRecord]
    answer_id: uuid.UUID | None
    mode: str
    confirming: bool


def _message_json(m: Message) -> dict[str, Any]:
    return {
        "id": str(m.id),
        "role": m.role,
        "content": m.content,
        "tool_calls": [c.to_json() for c in m.tool_calls],
        "tool_call_id": m.tool_call_id,
        "created_at": m.created_at.isoformat(),
    }


def _message(data: dict[str, Any]) -> Message:
    return Message(
        id=uuid.UUID(data["id"]),
        role=data["role"],
        content=data["content"],
        tool_calls=tuple(ToolCall.from_json(c) for c in data["tool_calls"]),
        tool_call_id=data["tool_call_id"],
        created_at=datetime.fromisoformat(data["created_at"]),
    )


def encode(record: TurnRecord) -> str:
    return json.dumps(
        {
            "messages": [_message_json(m) for m in record.messages],
            "calls": [[c.call_id, c.name, c.arguments, c.ok, c.confirmed] for c in record.calls],
            "answer_id": None if record.answer_id is None else str(record.answer_id),
            "mode": record.mode,
            "confirming": record.confirming,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode(user_id: uuid.UUID, conversation_id: uuid.UUID, payload: str) -> TurnRecord:
    data = json.loads(payload)
    answer = data["answer_id"]
    return TurnRecord(
        user_id=user_id,
        conversation_id=conversation_id,
        messages=[_message(m) for m in data["messages"]],
        calls=[CallRecord(*c) for c in data["calls"]],
        answer_id=None if answer is None else uuid.UUID(answer),
        mode=data["mode"],
        confirming=data["confirming"],
    )


def messages_of(payload: str) -> list[Message]:
    """The messages of a pending turn's payload (what the next turn's history needs);
    none from a payload that cannot be read (logged: the row is kept as it is)."""
    try:
        return [_message(m) for m in json.loads(payload)["messages"]]
    except (ValueError, KeyError, TypeError):
        log.exception("a chat turn written ahead cannot be read; left out of the history")
        return []


# The same INSERT for the driver (PostgreSQL): the turn waits on it before `done`.
_INSERT_PG = (
    "INSERT INTO chat_turns (user_id, conversation_id, payload, created_at) VALUES ($1, $2, $3, $4)"
)


async def write(conn: AsyncConnection, record: TurnRecord) -> None:
    """Append the turn: one INSERT, committed on its own on an autocommit connection."""
    values = (record.user_id, record.conversation_id, encode(record), datetime.now(UTC))
    if conn.dialect.name == "postgresql":
        await driver_execute(conn, _INSERT_PG, *values)
        return
    await conn.execute(_INSERT, dict(zip(_COLUMNS, values, strict=True)))


# Deleting the conversation's turns is what claims them: a fold running at the
# same time waits on the rows' locks and then finds them gone.
_CLAIM = (
    chat_turns.delete()
    .where(chat_turns.c.conversation_id == sa.bindparam("conversation_id"))
    .returning(chat_turns.c.id, chat_turns.c.user_id, chat_turns.c.payload, chat_turns.c.created_at)
)


async def claim(conn: AsyncConnection, conversation_id: uuid.UUID) -> list[TurnRecord]:
    """Delete the conversation's pending turns and return them, oldest first.

    In the fold's transaction, in one statement: a turn another process folds
    at the same time is locked (PostgreSQL: the row lock; SQLite: the write
    lock) and is gone by the time this one can see it, so it is not folded
    twice. A turn that cannot be read is logged and put back as it was, id
    included, in the same transaction.
    """
    found = await conn.execute(_CLAIM, {"conversation_id": conversation_id})
    rows = sorted(found.all(), key=lambda row: int(row.id))
    claimed: list[TurnRecord] = []
    unreadable: list[dict[str, Any]] = []
    for row in rows:
        try:
            claimed.append(decode(row.user_id, conversation_id, row.payload))
        except (ValueError, KeyError, TypeError):
            log.exception("chat turn %s written ahead cannot be read; it is kept", row.id)
            unreadable.append({**row._asdict(), "conversation_id": conversation_id})
    if unreadable:
        await conn.execute(_INSERT, unreadable)
    return claimed


async def pending_conversations(
    conn: AsyncConnection, user_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """The conversations with turns not folded in yet (of one user, or of all)."""
    query = sa.select(chat_turns.c.conversation_id).distinct()
    if user_id is not None:
        query = query.where(chat_turns.c.user_id == user_id)
    return list((await conn.execute(query)).scalars())


__all__ = [
    "TurnRecord",
    "claim",
    "decode",
    "encode",
    "messages_of",
    "pending_conversations",
    "write",
]
