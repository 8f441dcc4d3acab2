"""The tables migration 0005 creates; task-api (the assistant) is their one
writer. Defined, with every other table, in services/shared/tables.py."""

from services.shared.tables import conversation_messages, conversations, metadata

TABLE_NAMES = ("conversation_messages", "conversations")

__all__ = ["TABLE_NAMES", "conversation_messages", "conversations", "metadata"]
