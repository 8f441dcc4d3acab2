"""The outbox's unique (event_id, topic) index already finds an event by id:
the index on event_id alone only cost every insert and every row marked sent.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.drop_index("ix_outbox_event_id", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_event_id", "outbox", ["event_id"])
