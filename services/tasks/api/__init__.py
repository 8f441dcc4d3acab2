"""The task service's REST routes (thin: parse, call the service layer, answer)."""

__all__: list[str] = []
