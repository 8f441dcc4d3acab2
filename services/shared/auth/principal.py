"""Who is calling: resolved once per request from the bearer credential."""

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    email: str
    display_name: str | None
    timezone: str
    is_local: bool = False
