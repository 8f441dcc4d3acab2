"""Telling the other processes of a deployment that cached callers are stale.

Without Redis (one process, or the embedded mode) the local cache is all
there is: `LocalInvalidation` only drops its entries. With Redis, each change
is also published on one channel; every process listens and drops the same
entries from its own cache when the message arrives.
"""

import asyncio
import json
import logging
import uuid
from collections.abc import Sequence
from typing import Protocol

from events.stopping import cancel_and_wait
from services.shared.auth.cache import PrincipalCache

log = logging.getLogger(__name__)
CHANNEL = "todo:principals"

# ("user", id) or ("grant", id): see UnitOfWork.principals_changed.
Change = tuple[str, uuid.UUID]


def apply(cache: PrincipalCache, changes: Sequence[Change]) -> None:
    for kind, ident in changes:
        if kind == "grant":
            cache.drop_grant(ident)
        else:
            cache.drop_user(ident)


class Invalidation(Protocol):
    cache: PrincipalCache

    def changed(self, changes: Sequence[Change]) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class LocalInvalidation:
    def __init__(self, cache: PrincipalCache) -> None:
        self.cache = cache

    def changed(self, changes: Sequence[Change]) -> None:
        apply(self.cache, changes)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisInvalidation:
    """Drops here at once, then publishes for the other processes."""

    def __init__(self, cache: PrincipalCache, redis_url: str) -> None:
        import redis.asyncio as redis

        self.cache = cache
        self._redis = redis.Redis.from_url(redis_url)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()

    def changed(self, changes: Sequence[Change]) -> None:
        apply(self.cache, changes)
        body = json.dumps([[kind, str(ident)] for kind, ident in changes])
        task = asyncio.get_running_loop().create_task(self._publish(body))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, body: str) -> None:
        try:
            await self._redis.publish(CHANNEL, body)
        except Exception:  # the others drop theirs within AUTH_CACHE_SECONDS anyway
            log.warning("could not publish a principal invalidation", exc_info=True)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="principals-redis")
            await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    # Whatever changed while not subscribed is unknown here.
                    self.cache.clear()
                    self._ready.set()
                    async for item in pubsub.listen():
                        if item.get("type") != "message":
                            continue
                        try:
                            changes = [(k, uuid.UUID(i)) for k, i in json.loads(item["data"])]
                        except (ValueError, TypeError):
                            log.warning("ignored a malformed principal invalidation")
                            continue
                        apply(self.cache, changes)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarted: resubscribe after a pause
                log.exception("principal invalidation listener lost Redis; reconnecting")
                self.cache.clear()
                await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        await self._redis.aclose()
