"""Resolved callers kept for a few seconds, so a request does not read the
database to learn who sent it.

Keyed by the SHA-256 of the bearer credential (the token itself is never
kept), bounded (least recently used go first), and never holding a failure:
an unknown or refused token is looked up every time. An entry lasts at most
`ttl` seconds and never past the token's own `exp`.

Whatever changes who a token stands for or whether it works (a token or a
connected client revoked, the account deleted, the profile changed) drops the
user's entries here with `drop_user`/`drop_grant` as its transaction commits,
so this process refuses the token on the very next request. Other processes
drop theirs when the invalidation message reaches them, and never later than
`ttl` seconds.
"""

import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    value: T
    user_id: uuid.UUID
    grant_id: uuid.UUID | None
    until: float


def credential_key(bearer: str, scope: str = "") -> str:
    """The cache key of a credential: a digest, never the credential."""
    return hashlib.sha256(f"{scope}\0{bearer}".encode()).hexdigest()


class PrincipalCache:
    """An LRU map from credential digests to resolved callers, with expiry."""

    def __init__(
        self, ttl: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry[object]] = OrderedDict()
        # Bumped by every invalidation: a lookup that began before one does
        # not store what it read (it may be the state before the change).
        self._generation = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> object | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.until <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(
        self,
        key: str,
        value: object,
        *,
        user_id: uuid.UUID,
        grant_id: uuid.UUID | None = None,
        expires_at: float | None = None,
        generation: int | None = None,
    ) -> None:
        """Keep `value` for `ttl` seconds, or until `expires_at` (a Unix
        time, the token's `exp`) if that is sooner."""
        if not self.enabled or (generation is not None and generation != self._generation):
            return
        now = self._clock()
        until = now + self.ttl
        if expires_at is not None:
            until = min(until, now + (expires_at - time.time()))
        if until <= now:
            return
        self._entries[key] = _Entry(value, user_id, grant_id, until)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    @property
    def generation(self) -> int:
        return self._generation

    async def resolve(
        self,
        key: str,
        load: Callable[[], Awaitable[T]],
        identify: Callable[[T], tuple[uuid.UUID, uuid.UUID | None, float | None]],
    ) -> T:
        """The cached caller for `key`, or `load()`'s (kept only if it
        succeeds). `identify` names the user, grant and expiry of a result."""
        found = self.get(key)
        if found is not None:
            return found  # type: ignore[return-value]
        generation = self._generation
        value = await load()
        user_id, grant_id, expires_at = identify(value)
        self.put(
            key,
            value,
            user_id=user_id,
            grant_id=grant_id,
            expires_at=expires_at,
            generation=generation,
        )
        return value

    def drop_user(self, user_id: uuid.UUID) -> None:
        self._generation += 1
        for key in [k for k, e in self._entries.items() if e.user_id == user_id]:
            del self._entries[key]

    def drop_grant(self, grant_id: uuid.UUID) -> None:
        self._generation += 1
        for key in [k for k, e in self._entries.items() if e.grant_id == grant_id]:
            del self._entries[key]

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
