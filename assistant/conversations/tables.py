"""The tables migrations 0005 and 0012 create; task-api (the assistant) is their one
writer. Defined, with every other table, in services/shared/tables.py."""

from services.shared.tables import chat_turns, conversation_messages, conversations, metadata

TABLE_NAMES = ("chat_turns", "conversation_messages", "conversations")

__all__ = ["TABLE_NAMES", "chat_turns", "conversation_messages", "conversations", "metadata"]
