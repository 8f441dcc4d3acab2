"""The chat assistant: tool-calling agent, offline parser, conversations."""

__all__: list[str] = []
