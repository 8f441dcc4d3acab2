"""The composition root: one `bootstrap()` per process builds what it needs.

Nothing connects at import time; the engine connects on first use.
"""

import os
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.auth.keys import KeyRing, load_or_create_private_key
from services.shared.db import create_engine
from services.shared.settings import Settings, get_settings
from services.tasks.domain.timeutil import is_known_zone
from services.tasks.uow import UnitOfWork


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    keys: KeyRing

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    @property
    def access_ttl(self) -> timedelta:
        return timedelta(seconds=self.settings.access_token_ttl_seconds)

    @property
    def default_timezone(self) -> str:
        return self.settings.default_timezone or system_timezone()

    async def aclose(self) -> None:
        await self.engine.dispose()


def system_timezone() -> str:
    """This machine's IANA zone name, or UTC when it cannot be told."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text().strip())
    with suppress(OSError):
        candidates.append(str(Path("/etc/localtime").resolve()).split("zoneinfo/", 1)[-1])
    return next((c for c in candidates if c and is_known_zone(c)), "UTC")


def bootstrap(settings: Settings | None = None, **overrides: Any) -> Container:
    settings = settings or get_settings()
    if overrides:
        settings = settings.model_copy(update=overrides)
    key_file = settings.jwt_private_key_file or settings.data_dir / "jwt-private.pem"
    return Container(
        settings=settings,
        engine=create_engine(
            settings.database_url, pool_size=settings.db_pool_size, echo=settings.db_echo
        ),
        keys=KeyRing(load_or_create_private_key(key_file), settings.jwt_issuer),
    )
