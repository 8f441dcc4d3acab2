"""Personal access tokens may expire.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    # NULL: the token works until it is revoked.
    op.add_column(
        "personal_access_tokens",
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("personal_access_tokens") as batch:
        batch.drop_column("expires_at")
