"""Series anchors on tasks; the reminder schedule, notifications and audit trail.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("series_start_at", TS, nullable=True))
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="1"))
    op.execute("UPDATE tasks SET series_start_at = occurrence_at")

    # recurring-task service: its own copy of what it must remind, by task.
    op.create_table(
        "reminder_schedule",
        sa.Column("task_id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("remind_at", TS, nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("task_version", sa.Integer(), nullable=False),
        sa.Column("fired_at", TS, nullable=True),
    )
    op.create_index(
        "ix_reminder_schedule_due", "reminder_schedule", ["remind_at"],
        postgresql_where=sa.text("fired_at IS NULL"), sqlite_where=sa.text("fired_at IS NULL"),
    )

    # notification service
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source_event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("read_at", TS, nullable=True),
    )
    op.create_index("ix_notifications_user_created", "notifications", ["user_id", "created_at"])
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("in_app", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("email_address", sa.String(320), nullable=True),
        sa.Column("webhook_url", sa.String(2000), nullable=True),
        sa.Column("webhook_secret", sa.String(200), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )

    # audit service: append-only.
    op.create_table(
        "audit_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("event_source", sa.String(200), nullable=False),
        sa.Column("event_time", TS, nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.UniqueConstraint("event_id", "topic", name="uq_audit_event"),
    )
    op.create_index("ix_audit_actor_time", "audit_logs", ["actor_id", "event_time"])
    op.create_index("ix_audit_actor_resource", "audit_logs", ["actor_id", "resource_id"])


def downgrade() -> None:
    op.drop_table("audit_logs")
    op.drop_table("notification_preferences")
    op.drop_table("notifications")
    op.drop_table("reminder_schedule")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("sequence")
        batch.drop_column("series_start_at")
