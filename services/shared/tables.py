"""Every table of the product, as SQLModel table models on SQLModel's one
metadata registry (`metadata`). Migrations in `services/migrations` create the
tables; `tests/integration/test_migration_drift.py` checks that the models and
the migrated database agree, and `alembic revision --autogenerate` drafts the
next migration from a change here.

Queries are written in Core against the tables (`tasks = table_of(Task)`);
the models are not loaded as ORM objects on any hot path.

One writer per table: users, tokens, tasks, login links and OAuth belong to the
task service (task-api); calendar feeds to its portability part, conversations
to its assistant; the reminder schedule to the recurring-task service;
notifications, preferences and push subscriptions to the notification service;
the audit trail to the audit service. The outbox and the processed events are
the event transport's own (`events/outbox.py`, `events/processed.py`), on the
same registry; importing this module registers them too.
"""

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

import events.processed
from events.outbox import outbox_table, pending_table
from events.sqltypes import UTCDateTime, serial_id, table_of

metadata = SQLModel.metadata

# Tags are a text[] with a GIN index on PostgreSQL, a JSON array on SQLite.
TagList = sa.JSON().with_variant(postgresql.ARRAY(sa.String(50)), "postgresql")
InstantList = sa.JSON()

# An index that exists on PostgreSQL only; the drift check skips it elsewhere.
POSTGRESQL_ONLY = {"dialects": ("postgresql",)}


def _user_id(*, nullable: bool = False, index: bool = False) -> Any:
    """A user's id that goes with the user (ON DELETE CASCADE)."""
    return Field(
        sa_type=sa.Uuid(),
        foreign_key="users.id",
        ondelete="CASCADE",
        nullable=nullable,
        index=index,
    )


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(primary_key=True, sa_type=sa.Uuid())
    email: str = Field(sa_type=sa.String(320), unique=True)
    password_hash: str | None = Field(sa_type=sa.String(255))
    display_name: str | None = Field(sa_type=sa.String(100))
    timezone: str = Field(sa_type=sa.String(64))
    is_local: bool = Field(sa_type=sa.Boolean(), sa_column_kwargs={"server_default": sa.false()})
    created_at: datetime = Field(sa_type=UTCDateTime())
    # "auto" (the reader's locale), "12h" or "24h": how clock times are written.
    time_format: str = Field(sa_type=sa.String(8), sa_column_kwargs={"server_default": "auto"})


class AccessToken(SQLModel, table=True):
    __tablename__ = "personal_access_tokens"
    __table_args__ = (sa.Index("ix_pat_user", "user_id"),)

    id: uuid.UUID = Field(primary_key=True, sa_type=sa.Uuid())
    user_id: uuid.UUID = _user_id()
    name: str = Field(sa_type=sa.String(100))
    token_hash: str = Field(sa_type=sa.String(64), unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime())
    last_used_at: datetime | None = Field(sa_type=UTCDateTime())
    revoked_at: datetime | None = Field(sa_type=UTCDateTime())
    expires_at: datetime | None = Field(sa_type=UTCDateTime())  # NULL: until revoked


class LoginLink(SQLModel, table=True):
    __tablename__ = "login_links"

    token_hash: str = Field(primary_key=True, sa_type=sa.String(64))
    user_id: uuid.UUID = _user_id()
    expires_at: datetime = Field(sa_type=UTCDateTime())
    used_at: datetime | None = Field(sa_type=UTCDateTime())


class TaskRow(SQLModel):
    """A task's row: the live table and the deleted tasks' snapshots share it."""

    id: uuid.UUID = Field(primary_key=True, sa_type=sa.Uuid())
    user_id: uuid.UUID = _user_id()
    title: str = Field(sa_type=sa.String(500))
    description: str | None = Field(sa_type=sa.Text())
    status: str = Field(sa_type=sa.String(16))
    completed_at: datetime | None = Field(sa_type=UTCDateTime())
    priority: str = Field(sa_type=sa.String(16))
    priority_rank: int = Field(sa_type=sa.SmallInteger())
    tags: list[str] = Field(sa_type=TagList)
    due_at: datetime | None = Field(sa_type=UTCDateTime())
    remind_at: datetime | None = Field(sa_type=UTCDateTime())
    timezone: str = Field(sa_type=sa.String(64))
    recurrence_rule: str | None = Field(sa_type=sa.String(500))
    repeat_from: str = Field(sa_type=sa.String(16))
    series_id: uuid.UUID = Field(sa_type=sa.Uuid())
    occurrence_at: datetime | None = Field(sa_type=UTCDateTime())
    series_start_at: datetime | None = Field(sa_type=UTCDateTime())
    sequence: int = Field(sa_type=sa.Integer())
    exdates: list[str] = Field(sa_type=InstantList)
    created_at: datetime = Field(sa_type=UTCDateTime())
    updated_at: datetime = Field(sa_type=UTCDateTime())
    version: int = Field(sa_type=sa.Integer())


class Task(TaskRow, table=True):
    """A live task. Full-text search is the migrations' alone: a generated
    `search_vector` column with a GIN index on PostgreSQL, the `tasks_fts` FTS5
    table kept by triggers on SQLite (services/tasks/repository.py queries both
    by name)."""

    __tablename__ = "tasks"
    __table_args__ = (
        sa.UniqueConstraint("series_id", "occurrence_at", name="uq_tasks_series_occurrence"),
        sa.Index("ix_tasks_user_created", "user_id", "created_at"),
        sa.Index("ix_tasks_user_updated", "user_id", "updated_at"),
        sa.Index("ix_tasks_user_due", "user_id", "due_at"),
        sa.Index("ix_tasks_user_priority", "user_id", "priority_rank"),
        sa.Index("ix_tasks_user_status", "user_id", "status"),
        sa.Index("ix_tasks_user_title", "user_id", "title"),
        sa.Index("ix_tasks_remind_at", "remind_at"),
        sa.Index("ix_tasks_tags", "tags", postgresql_using="gin", info=POSTGRESQL_ONLY).ddl_if(
            dialect="postgresql"
        ),
    )

    # Added to existing rows by migration 0003, hence the server default.
    sequence: int = Field(sa_type=sa.Integer(), sa_column_kwargs={"server_default": "1"})


class DeletedTask(TaskRow, table=True):
    """A deleted task's row as it was, restorable for `RESTORE_DAYS`
    (services/tasks/service.py) and purged after; nothing else reads it."""

    __tablename__ = "deleted_tasks"
    __table_args__ = (sa.Index("ix_deleted_tasks_user_id", "user_id"),)

    deleted_at: datetime = Field(sa_type=UTCDateTime(), index=True)


# OAuth for remote MCP clients: registered clients, authorization requests
# awaiting the user's consent (then their one-time codes), grants (one per
# connected client; revoking one ends every token it issued) and rotating
# refresh tokens. Secrets are stored as their SHA-256.
class OAuthClient(SQLModel, table=True):
    __tablename__ = "oauth_clients"

    client_id: str = Field(primary_key=True, sa_type=sa.String(64))
    secret_hash: str | None = Field(sa_type=sa.String(64))  # NULL: a public client
    client_name: str | None = Field(sa_type=sa.String(200))
    registration: dict[str, Any] = Field(sa_type=sa.JSON())  # the registered metadata
    created_at: datetime = Field(sa_type=UTCDateTime())


def _client_id() -> Any:
    return Field(sa_type=sa.String(64), foreign_key="oauth_clients.client_id", ondelete="CASCADE")


class OAuthGrant(SQLModel, table=True):
    __tablename__ = "oauth_grants"

    id: uuid.UUID = Field(primary_key=True, sa_type=sa.Uuid())
    user_id: uuid.UUID = _user_id(index=True)
    client_id: str = _client_id()
    scopes: str = Field(sa_type=sa.String(200))
    resource: str = Field(sa_type=sa.String(500))
    created_at: datetime = Field(sa_type=UTCDateTime())
    last_used_at: datetime | None = Field(sa_type=UTCDateTime())
    revoked_at: datetime | None = Field(sa_type=UTCDateTime())


class OAuthAuthorization(SQLModel, table=True):
    __tablename__ = "oauth_authorizations"

    id: str = Field(primary_key=True, sa_type=sa.String(64))
    client_id: str = _client_id()
    user_id: uuid.UUID | None = _user_id(nullable=True)
    redirect_uri: str = Field(sa_type=sa.Text())
    redirect_uri_explicit: bool = Field(sa_type=sa.Boolean())
    code_challenge: str = Field(sa_type=sa.String(128))
    state: str | None = Field(sa_type=sa.Text())
    scopes: str = Field(sa_type=sa.String(200))
    resource: str = Field(sa_type=sa.String(500))
    expires_at: datetime = Field(sa_type=UTCDateTime())
    code_hash: str | None = Field(sa_type=sa.String(64), unique=True)
    grant_id: uuid.UUID | None = Field(
        sa_type=sa.Uuid(), foreign_key="oauth_grants.id", ondelete="CASCADE", nullable=True
    )
    used_at: datetime | None = Field(sa_type=UTCDateTime())


class OAuthRefreshToken(SQLModel, table=True):
    __tablename__ = "oauth_refresh_tokens"

    token_hash: str = Field(primary_key=True, sa_type=sa.String(64))
    grant_id: uuid.UUID = Field(
        sa_type=sa.Uuid(), foreign_key="oauth_grants.id", ondelete="CASCADE", index=True
    )
    created_at: datetime = Field(sa_type=UTCDateTime())
    expires_at: datetime = Field(sa_type=UTCDateTime())
    used_at: datetime | None = Field(sa_type=UTCDateTime())  # rotated: a second use revokes


class CalendarFeed(SQLModel, table=True):
    """A user's calendar feed secret (only its SHA-256 is kept)."""

    __tablename__ = "calendar_feeds"

    user_id: uuid.UUID = Field(
        primary_key=True, sa_type=sa.Uuid(), foreign_key="users.id", ondelete="CASCADE"
    )
    token_hash: str = Field(sa_type=sa.String(64), unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime())


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (sa.Index("ix_conversations_user_updated", "user_id", "updated_at"),)

    id: uuid.UUID = Field(primary_key=True, sa_type=sa.Uuid())
    user_id: uuid.UUID = _user_id()
    title: str = Field(sa_type=sa.String(200))
    message_count: int = Field(sa_type=sa.Integer(), sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(sa_type=UTCDateTime())
    updated_at: datetime = Field(sa_type=UTCDateTime())


class ConversationMessage(SQLModel, table=True):
    __tablename__ = "conversation_messages"
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "position", name="uq_conversation_message_position"),
    )

    id: uuid.UUID = Field(primary_key=True, sa_type=sa.Uuid())
    conversation_id: uuid.UUID = Field(
        sa_type=sa.Uuid(), foreign_key="conversations.id", ondelete="CASCADE"
    )
    position: int = Field(sa_type=sa.Integer())
    role: str = Field(sa_type=sa.String(16))
    content: str | None = Field(sa_type=sa.Text())
    tool_calls: list[dict[str, Any]] | None = Field(sa_type=sa.JSON())
    tool_call_id: str | None = Field(sa_type=sa.String(100))
    created_at: datetime = Field(sa_type=UTCDateTime())


class ChatTurn(SQLModel, table=True):
    """A finished chat turn written ahead of its conversation: one row, appended
    before `done`, folded into `conversations` and `conversation_messages` (with
    its chat events) afterwards and then deleted (`assistant/conversations/journal.py`)."""

    __tablename__ = "chat_turns"
    __table_args__ = (sa.Index("ix_chat_turns_conversation", "conversation_id", "id"),)

    id: int = serial_id()
    user_id: uuid.UUID = _user_id(index=True)
    conversation_id: uuid.UUID = Field(sa_type=sa.Uuid())
    payload: str = Field(sa_type=sa.Text())
    created_at: datetime = Field(sa_type=UTCDateTime())


class ReminderSchedule(SQLModel, table=True):
    """The recurring-task service's own copy of what to remind and when."""

    __tablename__ = "reminder_schedule"
    __table_args__ = (
        # what the scheduler scans: the reminders not fired yet
        sa.Index(
            "ix_reminder_schedule_due",
            "remind_at",
            postgresql_where=sa.text("fired_at IS NULL"),
            sqlite_where=sa.text("fired_at IS NULL"),
        ),
    )

    task_id: uuid.UUID = Field(primary_key=True, sa_type=sa.Uuid())
    user_id: uuid.UUID = Field(sa_type=sa.Uuid())
    remind_at: datetime = Field(sa_type=UTCDateTime())
    title: str = Field(sa_type=sa.String(500))
    due_at: datetime | None = Field(sa_type=UTCDateTime())
    timezone: str = Field(sa_type=sa.String(64))
    task_version: int = Field(sa_type=sa.Integer())
    fired_at: datetime | None = Field(sa_type=UTCDateTime())


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_created", "user_id", "created_at"),)

    id: uuid.UUID = Field(primary_key=True, sa_type=sa.Uuid())
    user_id: uuid.UUID = Field(sa_type=sa.Uuid())
    kind: str = Field(sa_type=sa.String(32))
    task_id: uuid.UUID | None = Field(sa_type=sa.Uuid())
    title: str = Field(sa_type=sa.String(500))
    body: str = Field(sa_type=sa.Text())
    source_event_id: str = Field(sa_type=sa.String(64), unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime())
    read_at: datetime | None = Field(sa_type=UTCDateTime())
    # A reminder's due time and the task's zone: the page writes it in the reader's format.
    due_at: datetime | None = Field(sa_type=UTCDateTime())
    timezone: str | None = Field(sa_type=sa.String(64))


class NotificationPreferences(SQLModel, table=True):
    __tablename__ = "notification_preferences"

    user_id: uuid.UUID = Field(primary_key=True, sa_type=sa.Uuid())
    in_app: bool = Field(sa_type=sa.Boolean())
    email: bool = Field(sa_type=sa.Boolean())
    email_address: str | None = Field(sa_type=sa.String(320))
    webhook_url: str | None = Field(sa_type=sa.String(2000))
    webhook_secret: str | None = Field(sa_type=sa.String(200))
    updated_at: datetime = Field(sa_type=UTCDateTime())


class PushSubscription(SQLModel, table=True):
    """A browser's Web Push subscription (its endpoint), owned by the user who
    subscribed last from it."""

    __tablename__ = "push_subscriptions"

    id: uuid.UUID = Field(primary_key=True, sa_type=sa.Uuid())
    user_id: uuid.UUID = Field(sa_type=sa.Uuid(), index=True)
    endpoint: str = Field(sa_type=sa.String(2000), unique=True)
    p256dh: str = Field(sa_type=sa.String(100))
    auth: str = Field(sa_type=sa.String(50))
    created_at: datetime = Field(sa_type=UTCDateTime())


# The rows that record an account's deletion (a partial index's predicate,
# written the same way where the audit trail asks for them).
AUDIT_ACCOUNT_DELETED = "event_type = 'user.deleted'"


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_logs"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "topic", name="uq_audit_event"),
        sa.Index("ix_audit_actor_time", "actor_id", "event_time"),
        sa.Index("ix_audit_actor_resource", "actor_id", "resource_id"),
        # Whether an actor's account was deleted, asked on every row recorded:
        # without it, that question read every row of the actor's trail.
        sa.Index(
            "ix_audit_deleted_actor",
            "actor_id",
            postgresql_where=sa.text(AUDIT_ACCOUNT_DELETED),
            sqlite_where=sa.text(AUDIT_ACCOUNT_DELETED),
        ),
    )

    id: int = serial_id()
    event_id: str = Field(sa_type=sa.String(64))
    topic: str = Field(sa_type=sa.String(64))
    event_type: str = Field(sa_type=sa.String(64))
    event_source: str = Field(sa_type=sa.String(200))
    event_time: datetime = Field(sa_type=UTCDateTime())
    actor_id: str = Field(sa_type=sa.String(64))
    resource_type: str = Field(sa_type=sa.String(32))
    resource_id: str | None = Field(sa_type=sa.String(64))
    # The column is `metadata` (queries say `audit_logs.c.metadata`); a model's
    # `metadata` attribute is its registry, so the field has another name.
    event_metadata: dict[str, Any] = Field(sa_type=sa.JSON(), sa_column_kwargs={"name": "metadata"})
    recorded_at: datetime = Field(sa_type=UTCDateTime())


users = table_of(User)
access_tokens = table_of(AccessToken)
login_links = table_of(LoginLink)
tasks = table_of(Task)
deleted_tasks = table_of(DeletedTask)
oauth_clients = table_of(OAuthClient)
oauth_grants = table_of(OAuthGrant)
oauth_authorizations = table_of(OAuthAuthorization)
oauth_refresh_tokens = table_of(OAuthRefreshToken)
calendar_feeds = table_of(CalendarFeed)
conversations = table_of(Conversation)
conversation_messages = table_of(ConversationMessage)
chat_turns = table_of(ChatTurn)
reminder_schedule = table_of(ReminderSchedule)
notifications = table_of(Notification)
notification_preferences = table_of(NotificationPreferences)
push_subscriptions = table_of(PushSubscription)
audit_logs = table_of(AuditLog)
processed_events = events.processed.processed_events

__all__ = [
    "AUDIT_ACCOUNT_DELETED",
    "access_tokens",
    "audit_logs",
    "calendar_feeds",
    "chat_turns",
    "conversation_messages",
    "conversations",
    "deleted_tasks",
    "login_links",
    "metadata",
    "notification_preferences",
    "notifications",
    "oauth_authorizations",
    "oauth_clients",
    "oauth_grants",
    "oauth_refresh_tokens",
    "outbox_table",
    "pending_table",
    "processed_events",
    "push_subscriptions",
    "reminder_schedule",
    "tasks",
    "users",
]
