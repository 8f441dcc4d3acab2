"""Deleted tasks are kept as they were, restorable for a while (undo a delete).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"

NOW_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deleted_tasks",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("completed_at", NOW_TZ, nullable=True),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("priority_rank", sa.SmallInteger(), nullable=False),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.ARRAY(sa.String(50)), "postgresql"),
            nullable=False,
        ),
        sa.Column("due_at", NOW_TZ, nullable=True),
        sa.Column("remind_at", NOW_TZ, nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("recurrence_rule", sa.String(500), nullable=True),
        sa.Column("repeat_from", sa.String(16), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=False),
        sa.Column("occurrence_at", NOW_TZ, nullable=True),
        sa.Column("series_start_at", NOW_TZ, nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("exdates", sa.JSON(), nullable=False),
        sa.Column("created_at", NOW_TZ, nullable=False),
        sa.Column("updated_at", NOW_TZ, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", NOW_TZ, nullable=False),
    )
    op.create_index("ix_deleted_tasks_user_id", "deleted_tasks", ["user_id"])
    op.create_index("ix_deleted_tasks_deleted_at", "deleted_tasks", ["deleted_at"])


def downgrade() -> None:
    op.drop_table("deleted_tasks")
