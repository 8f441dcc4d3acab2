"""Tables the notification service alone writes. Defined, with every other
table, in services/shared/tables.py."""

from services.shared.tables import metadata, notifications, push_subscriptions
from services.shared.tables import notification_preferences as preferences

__all__ = ["metadata", "notifications", "preferences", "push_subscriptions"]
