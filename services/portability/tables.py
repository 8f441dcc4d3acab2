"""Tables the portability part of task-api writes: per-user calendar feed
secrets (only their SHA-256 is kept)."""

import sqlalchemy as sa

from events.sqltypes import UTCDateTime

metadata = sa.MetaData()

calendar_feeds = sa.Table(
    "calendar_feeds",
    metadata,
    sa.Column("user_id", sa.Uuid(), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

__all__ = ["calendar_feeds", "metadata"]
