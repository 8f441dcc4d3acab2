"""Accounts choose how clock times are written: their locale's way, 12-hour or 24-hour.

An in-app reminder keeps the due time it speaks of (and its zone), so each
reader's page writes that time in their own format.

The local user was created with the display name "Me", which the page then
greeted as a name; it has none until the user gives one.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("time_format", sa.String(8), nullable=False, server_default="auto"),
    )
    op.add_column("notifications", sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notifications", sa.Column("timezone", sa.String(64), nullable=True))
    users = sa.table(
        "users",
        sa.column("display_name", sa.String),
        sa.column("is_local", sa.Boolean),
    )
    op.execute(
        users.update()
        .where(users.c.is_local.is_(True), users.c.display_name == "Me")
        .values(display_name=None)
    )


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("timezone")
        batch.drop_column("due_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("time_format")
