"""Table definitions (SQLAlchemy Core). Migrations in `services/migrations`
create them; these objects are what queries are written against.

One writer per table: users, tokens, tasks and login links belong to the
task service (task-api).
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from events.sqltypes import UTCDateTime

metadata = sa.MetaData()

# Tags are a text[] with a GIN index on PostgreSQL, a JSON array on SQLite.
TagList = sa.JSON().with_variant(postgresql.ARRAY(sa.String(50)), "postgresql")
InstantList = sa.JSON()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("display_name", sa.String(100), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("is_local", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # "auto" (the reader's locale), "12h" or "24h": how clock times are written.
    sa.Column("time_format", sa.String(8), nullable=False, server_default="auto"),
)

access_tokens = sa.Table(
    "personal_access_tokens",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column(
        "user_id",
        sa.Uuid(),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("expires_at", UTCDateTime(), nullable=True),  # NULL: until revoked
)

login_links = sa.Table(
    "login_links",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
)


def _task_columns() -> list[sa.Column[Any]]:
    """A task's row: the live table and the deleted tasks' snapshots share it."""
    return [
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("priority_rank", sa.SmallInteger(), nullable=False),
        sa.Column("tags", TagList, nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("remind_at", UTCDateTime(), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("recurrence_rule", sa.String(500), nullable=True),
        sa.Column("repeat_from", sa.String(16), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=False),
        sa.Column("occurrence_at", UTCDateTime(), nullable=True),
        sa.Column("series_start_at", UTCDateTime(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("exdates", InstantList, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


tasks = sa.Table("tasks", metadata, *_task_columns())

# A deleted task's row as it was, restorable for `RESTORE_DAYS` (services/tasks/
# service.py) and purged after; nothing else reads it.
deleted_tasks = sa.Table(
    "deleted_tasks",
    metadata,
    *_task_columns(),
    sa.Column("deleted_at", UTCDateTime(), nullable=False, index=True),
)

__all__ = ["access_tokens", "deleted_tasks", "login_links", "metadata", "tasks", "users"]

# OAuth for remote MCP clients: registered clients, authorization requests
# awaiting the user's consent (then their one-time codes), grants (one per
# connected client; revoking one ends every token it issued) and rotating
# refresh tokens. Secrets are stored as their SHA-256.
oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=True),  # NULL: a public client
    sa.Column("client_name", sa.String(200), nullable=True),
    sa.Column("registration", sa.JSON(), nullable=False),  # the registered metadata
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

oauth_grants = sa.Table(
    "oauth_grants",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column(
        "user_id",
        sa.Uuid(),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column(
        "client_id",
        sa.String(64),
        sa.ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("scopes", sa.String(200), nullable=False),
    sa.Column("resource", sa.String(500), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

oauth_authorizations = sa.Table(
    "oauth_authorizations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "client_id",
        sa.String(64),
        sa.ForeignKey("oauth_clients.client_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    sa.Column("redirect_uri", sa.Text(), nullable=False),
    sa.Column("redirect_uri_explicit", sa.Boolean(), nullable=False),
    sa.Column("code_challenge", sa.String(128), nullable=False),
    sa.Column("state", sa.Text(), nullable=True),
    sa.Column("scopes", sa.String(200), nullable=False),
    sa.Column("resource", sa.String(500), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=True, unique=True),
    sa.Column(
        "grant_id", sa.Uuid(), sa.ForeignKey("oauth_grants.id", ondelete="CASCADE"), nullable=True
    ),
    sa.Column("used_at", UTCDateTime(), nullable=True),
)

oauth_refresh_tokens = sa.Table(
    "oauth_refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "grant_id",
        sa.Uuid(),
        sa.ForeignKey("oauth_grants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),  # rotated: a second use revokes the grant
)
