"""Whether an actor's account was deleted is asked each time the audit trail
records an event. A partial index over the deletion rows answers it at once;
before, the question read every row of the actor's trail, so recording got
slower the longer a user had used the product.

On PostgreSQL the index is built without blocking the audit service's writes
(CONCURRENTLY, outside the migration's transaction).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"

_DELETED = "event_type = 'user.deleted'"


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            # A build cut short leaves an invalid index behind: start again.
            op.drop_index(
                "ix_audit_deleted_actor",
                table_name="audit_logs",
                postgresql_concurrently=True,
                if_exists=True,
            )
            op.create_index(
                "ix_audit_deleted_actor",
                "audit_logs",
                ["actor_id"],
                postgresql_where=sa.text(_DELETED),
                postgresql_concurrently=True,
            )
        return
    op.create_index(
        "ix_audit_deleted_actor", "audit_logs", ["actor_id"], sqlite_where=sa.text(_DELETED)
    )


def downgrade() -> None:
    op.drop_index("ix_audit_deleted_actor", table_name="audit_logs")
