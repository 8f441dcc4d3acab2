"""Users, tokens, tasks with full-text search, and the outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None

NOW_TZ = sa.DateTime(timezone=True)


def _tags() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.ARRAY(sa.String(50)), "postgresql")


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("display_name", sa.String(100), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("is_local", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", NOW_TZ, nullable=False),
    )
    op.create_table(
        "personal_access_tokens",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", NOW_TZ, nullable=False),
        sa.Column("last_used_at", NOW_TZ, nullable=True),
        sa.Column("revoked_at", NOW_TZ, nullable=True),
    )
    op.create_index("ix_pat_user", "personal_access_tokens", ["user_id"])
    op.create_table(
        "login_links",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("expires_at", NOW_TZ, nullable=False),
        sa.Column("used_at", NOW_TZ, nullable=True),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("completed_at", NOW_TZ, nullable=True),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("priority_rank", sa.SmallInteger(), nullable=False),
        sa.Column("tags", _tags(), nullable=False),
        sa.Column("due_at", NOW_TZ, nullable=True),
        sa.Column("remind_at", NOW_TZ, nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("recurrence_rule", sa.String(500), nullable=True),
        sa.Column("repeat_from", sa.String(16), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=False),
        sa.Column("occurrence_at", NOW_TZ, nullable=True),
        sa.Column("exdates", sa.JSON(), nullable=False),
        sa.Column("created_at", NOW_TZ, nullable=False),
        sa.Column("updated_at", NOW_TZ, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("series_id", "occurrence_at", name="uq_tasks_series_occurrence"),
    )
    for name, cols in {
        "ix_tasks_user_created": ["user_id", "created_at"],
        "ix_tasks_user_updated": ["user_id", "updated_at"],
        "ix_tasks_user_due": ["user_id", "due_at"],
        "ix_tasks_user_priority": ["user_id", "priority_rank"],
        "ix_tasks_user_status": ["user_id", "status"],
        "ix_tasks_user_title": ["user_id", "title"],
        "ix_tasks_remind_at": ["remind_at"],
    }.items():
        op.create_index(name, "tasks", cols)
    if pg:
        op.create_index("ix_tasks_tags", "tasks", ["tags"], postgresql_using="gin")
        op.execute(
            "ALTER TABLE tasks ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
            "setweight(to_tsvector('english', coalesce(description, '')), 'B')) STORED"
        )
        op.execute("CREATE INDEX ix_tasks_search ON tasks USING gin (search_vector)")
    else:
        _sqlite_fts()

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("partition_key", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", NOW_TZ, nullable=False),
        sa.Column("sent_at", NOW_TZ, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        # A dead-lettered event keeps its id on dlq-events: unique per topic.
        sa.UniqueConstraint("event_id", "topic", name="uq_outbox_event_topic"),
    )
    op.create_index(
        "ix_outbox_unsent", "outbox", ["id"],
        postgresql_where=sa.text("sent_at IS NULL"), sqlite_where=sa.text("sent_at IS NULL"),
    )


def _sqlite_fts() -> None:
    # FTS5 keeps its own copy of title and description under the task row's
    # rowid, kept in step by triggers (nothing here VACUUMs, which is what
    # could renumber the rowids of a table keyed by a UUID).
    op.execute(
        "CREATE VIRTUAL TABLE tasks_fts USING fts5("
        "title, description, tokenize = 'porter unicode61')"
    )
    op.execute(
        "CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN "
        "INSERT INTO tasks_fts (rowid, title, description) "
        "VALUES (new.rowid, new.title, coalesce(new.description, '')); END"
    )
    op.execute(
        "CREATE TRIGGER tasks_fts_update AFTER UPDATE OF title, description ON tasks BEGIN "
        "UPDATE tasks_fts SET title = new.title, description = coalesce(new.description, '') "
        "WHERE rowid = old.rowid; END"
    )
    op.execute(
        "CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN "
        "DELETE FROM tasks_fts WHERE rowid = old.rowid; END"
    )


def downgrade() -> None:
    op.drop_table("outbox")
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS tasks_fts")
    op.drop_table("tasks")
    op.drop_table("login_links")
    op.drop_table("personal_access_tokens")
    op.drop_table("users")
