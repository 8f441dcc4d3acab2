"""The offline assistant (no OPENAI_API_KEY): the parser's reading, the same MCP tools."""

from assistant.offline.agent import OfflineAgent

__all__ = ["OfflineAgent"]
