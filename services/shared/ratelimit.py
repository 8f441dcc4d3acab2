"""Rate limits: per user on every authenticated request, stricter per client
address on sign-in and registration. Fixed windows that start at a key's
first request; shared through Redis when REDIS_URL is set, so every replica
counts the same requests."""

import time
from collections import OrderedDict
from typing import Protocol

from services.errors import DomainError


class TooManyRequests(DomainError):
    title = "Too many requests"

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"slow down: try again in {max(1, round(retry_after))} s")
        self.retry_after = max(1, round(retry_after))


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: float) -> float | None:
        """Count one request; the seconds to wait when over `limit`, else None."""

    async def aclose(self) -> None: ...


class MemoryRateLimiter:
    """One process's counters; the oldest keys are dropped beyond `max_keys`."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._max_keys = max_keys

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        now = time.monotonic()
        start, count = self._windows.pop(key, (now, 0))
        if now - start >= window:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > self._max_keys:
            self._windows.popitem(last=False)
        return None if count <= limit else window - (now - start)

    async def aclose(self) -> None:
        return None


# One key's fixed window, counted on the Redis server in one command: the
# window starts at the key's first request (as in memory), not on a wall-clock
# boundary, so there is no double burst across a boundary. A key found without
# an expiry gets one, so no counter outlives its window. Answers -1 within the
# limit, else the milliseconds left in the window.
_HIT = """
local count = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
if count <= tonumber(ARGV[2]) then return -1 end
return left
"""


class RedisRateLimiter:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url)
        # EVALSHA, loaded again by redis-py when the server has lost it (a restart).
        self._hit = self._redis.register_script(_HIT)

    async def hit(self, key: str, limit: int, window: float) -> float | None:
        left_ms = int(
            await self._hit(keys=[f"todo:rl:{key}"], args=[max(1, int(window * 1000)), limit])
        )
        if left_ms < 0:
            return None
        return max(left_ms, 1) / 1000

    async def aclose(self) -> None:
        await self._redis.aclose()


async def enforce(limiter: RateLimiter, key: str, limit: int, window: float) -> None:
    wait = await limiter.hit(key, limit, window)
    if wait is not None:
        raise TooManyRequests(wait)
