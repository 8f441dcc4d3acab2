"""Conversations and their messages: the tables, the queries, the API shapes."""

from assistant.conversations.store import Conversation
from assistant.conversations.tables import TABLE_NAMES, conversation_messages, conversations

__all__ = ["TABLE_NAMES", "Conversation", "conversation_messages", "conversations"]
