"""The live feed resumes from the outbox: find an event by id, then a user's
later events in commit order.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_index("ix_outbox_event_id", "outbox", ["event_id"])
    op.create_index("ix_outbox_partition_key_id", "outbox", ["partition_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_partition_key_id", table_name="outbox")
    op.drop_index("ix_outbox_event_id", table_name="outbox")
