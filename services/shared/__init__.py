"""What every service shares: settings, database, auth, the HTTP app factory."""

__all__: list[str] = []
