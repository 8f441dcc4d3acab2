"""What routes, the assistant and the MCP server need of the running process.

The composition root (`services.bootstrap.Container`) satisfies this protocol;
code below the entry points is handed one and never imports the root.
"""

from datetime import timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from events.bus import Bus
from services.shared.auth.cache import PrincipalCache
from services.shared.auth.keys import KeyRing
from services.shared.auth.throttle import LoginThrottle
from services.shared.ratelimit import RateLimiter
from services.shared.settings import Settings
from services.shared.uow import UnitOfWork


class AppContext(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def engine(self) -> AsyncEngine: ...

    @property
    def keys(self) -> KeyRing: ...

    @property
    def bus(self) -> Bus: ...

    @property
    def limiter(self) -> RateLimiter: ...

    @property
    def throttle(self) -> LoginThrottle: ...

    @property
    def principals(self) -> PrincipalCache: ...

    @property
    def access_ttl(self) -> timedelta: ...

    @property
    def default_timezone(self) -> str: ...

    def uow(self) -> UnitOfWork:
        """A read-write unit of work; its commit wakes the outbox relay."""
        ...

    def reading(self) -> UnitOfWork:
        """A unit of work for reads only."""
        ...

    async def aclose(self) -> None: ...
