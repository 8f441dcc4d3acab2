"""The tables migration 0005 creates; task-api (the assistant) is their one writer."""

import sqlalchemy as sa

from events.sqltypes import UTCDateTime

metadata = sa.MetaData()

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("message_count", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

conversation_messages = sa.Table(
    "conversation_messages",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("conversation_id", sa.Uuid(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text(), nullable=True),
    sa.Column("tool_calls", sa.JSON(), nullable=True),
    sa.Column("tool_call_id", sa.String(100), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

TABLE_NAMES = ("conversation_messages", "conversations")

__all__ = ["TABLE_NAMES", "conversation_messages", "conversations", "metadata"]
