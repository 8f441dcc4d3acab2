"""Tables the notification service alone writes."""

import sqlalchemy as sa

from events.sqltypes import UTCDateTime

metadata = sa.MetaData()

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("task_id", sa.Uuid(), nullable=True),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("source_event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("read_at", UTCDateTime(), nullable=True),
    # A reminder's due time and the task's zone: the page writes it in the reader's format.
    sa.Column("due_at", UTCDateTime(), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=True),
)

preferences = sa.Table(
    "notification_preferences",
    metadata,
    sa.Column("user_id", sa.Uuid(), primary_key=True),
    sa.Column("in_app", sa.Boolean(), nullable=False),
    sa.Column("email", sa.Boolean(), nullable=False),
    sa.Column("email_address", sa.String(320), nullable=True),
    sa.Column("webhook_url", sa.String(2000), nullable=True),
    sa.Column("webhook_secret", sa.String(200), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# Web Push subscriptions: one row per browser (its endpoint), owned by the user
# who subscribed last from it.
push_subscriptions = sa.Table(
    "push_subscriptions",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("user_id", sa.Uuid(), nullable=False, index=True),
    sa.Column("endpoint", sa.String(2000), nullable=False, unique=True),
    sa.Column("p256dh", sa.String(100), nullable=False),
    sa.Column("auth", sa.String(50), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
