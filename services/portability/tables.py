"""Tables the portability part of task-api writes: per-user calendar feed
secrets (only their SHA-256 is kept). Defined in services/shared/tables.py."""

from services.shared.tables import calendar_feeds, metadata

__all__ = ["calendar_feeds", "metadata"]
