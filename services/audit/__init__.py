"""The audit service: every event of every topic, kept append-only."""

__all__: list[str] = []
