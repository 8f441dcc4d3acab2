"""Accounts and credentials: argon2 passwords, RS256 access tokens (JWKS),
hashed personal access tokens, the local user and its one-time login links."""

from services.shared.auth.keys import KeyRing
from services.shared.auth.principal import Principal

__all__ = ["KeyRing", "Principal"]
