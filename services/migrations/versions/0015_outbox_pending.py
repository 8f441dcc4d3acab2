"""The relay's queue leaves the outbox: `outbox_pending` holds one narrow row
per event not sent yet, and the relay deletes it once the broker took the
event. Marking the outbox row sent instead rewrote the whole event (its
partial index on `sent_at IS NULL` kept that from being a HOT update) and
added entries to each of its indexes, the most the database did per event.

A trigger on `outbox` queues every row inserted, so each writer, an older
replica still running during a rolling upgrade included, has its events
relayed (`services/migrations/outbox_queue.py`).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

from services.migrations.outbox_queue import create_queue_trigger, drop_queue_trigger

revision = "0015"
down_revision = "0014"

NOW_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox_pending",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("partition_key", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.execute(
        "INSERT INTO outbox_pending (id, partition_key, attempts, last_error)"
        " SELECT id, partition_key, attempts, last_error FROM outbox WHERE sent_at IS NULL"
    )
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("sent_at")
        batch.drop_column("attempts")
        batch.drop_column("last_error")
    create_queue_trigger()


def downgrade() -> None:
    drop_queue_trigger()
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("sent_at", NOW_TZ, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    # When an event went out was not kept: a sent event counts as sent when written.
    op.execute(
        "UPDATE outbox SET sent_at = created_at WHERE id NOT IN (SELECT id FROM outbox_pending)"
    )
    op.execute(
        "UPDATE outbox SET"
        " attempts = (SELECT attempts FROM outbox_pending p WHERE p.id = outbox.id),"
        " last_error = (SELECT last_error FROM outbox_pending p WHERE p.id = outbox.id)"
        " WHERE id IN (SELECT id FROM outbox_pending)"
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    )
    op.drop_table("outbox_pending")
