"""Who is calling: resolved once per request from the bearer credential."""

import uuid
from dataclasses import dataclass

from services.shared.timeutil import TimeFormat


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    email: str
    display_name: str | None
    timezone: str
    is_local: bool = False
    # How clock times are written for this user: "auto" (their locale's way), "12h" or "24h".
    time_format: TimeFormat = "auto"
