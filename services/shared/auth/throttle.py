"""Login throttling against password guessing.

Consecutive failed logins are counted per account and per client address.
Once a count reaches its threshold, further attempts on that account (or from
that address) are refused with 429 for a window that doubles with every
further failure, up to a maximum; a successful login resets both counts.
While locked, the password is not even checked, so guessing gains nothing.
Kept in Redis when REDIS_URL is set (every replica sees the same counts),
in process memory otherwise.
"""

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from services.shared.ratelimit import TooManyRequests

__all__ = [
    "FailureStore",
    "LoginLocked",
    "LoginThrottle",
    "MemoryFailureStore",
    "RedisFailureStore",
    "ThrottlePolicy",
]


class LoginLocked(TooManyRequests):
    title = "Too many failed logins"

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.detail = (
            f"too many failed logins: try again in {self.retry_after} s, "
            "or use a login link from whoever runs this server"
        )


class FailureStore(Protocol):
    async def locked_for(self, key: str) -> float:
        """Seconds left on the key's lock (0 when not locked)."""

    async def record_failure(self, key: str, threshold: int, policy: "ThrottlePolicy") -> None: ...

    async def reset(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ThrottlePolicy:
    account_failures: int = 5
    address_failures: int = 20
    lock_seconds: float = 30.0
    max_lock_seconds: float = 900.0

    def lock_after(self, failures: int, threshold: int) -> float:
        """The lock a key gets after its `failures`-th consecutive failure."""
        if failures < threshold:
            return 0.0
        doublings = min(failures - threshold, 32)
        return float(min(self.lock_seconds * 2**doublings, self.max_lock_seconds))

    @property
    def memory_seconds(self) -> int:
        """How long a count is kept after its last failure."""
        return int(max(self.max_lock_seconds, 3600.0))


class MemoryFailureStore:
    """One process's counts; the oldest keys are dropped beyond `max_keys`."""

    def __init__(self, max_keys: int = 100_000) -> None:
        # key -> (consecutive failures, locked until, last failure) in monotonic time
        self._keys: OrderedDict[str, tuple[int, float, float]] = OrderedDict()
        self._max_keys = max_keys

    async def locked_for(self, key: str) -> float:
        found = self._keys.get(key)
        return 0.0 if found is None else max(0.0, found[1] - time.monotonic())

    async def record_failure(self, key: str, threshold: int, policy: ThrottlePolicy) -> None:
        now = time.monotonic()
        failures, until, last = self._keys.pop(key, (0, 0.0, now))
        if now - last > policy.memory_seconds:
            failures, until = 0, 0.0
        failures += 1
        lock = policy.lock_after(failures, threshold)
        self._keys[key] = (failures, max(until, now + lock) if lock else until, now)
        if len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)

    async def reset(self, key: str) -> None:
        self._keys.pop(key, None)

    async def aclose(self) -> None:
        return None


class RedisFailureStore:
    """A hash per key (`failures`, `locked_until` in Unix time), expiring on its own."""

    _RECORD = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local threshold = tonumber(ARGV[1])
if failures >= threshold then
  local lock = tonumber(ARGV[2]) * 2 ^ math.min(failures - threshold, 32)
  lock = math.min(lock, tonumber(ARGV[3]))
  redis.call('HSET', KEYS[1], 'locked_until', tostring(tonumber(ARGV[4]) + lock))
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return failures
"""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url)
        self._record = self._redis.register_script(self._RECORD)

    @staticmethod
    def _name(key: str) -> str:
        return f"todo:login:{key}"

    async def locked_for(self, key: str) -> float:
        until = await self._redis.hget(self._name(key), "locked_until")
        return 0.0 if until is None else max(0.0, float(until) - time.time())

    async def record_failure(self, key: str, threshold: int, policy: ThrottlePolicy) -> None:
        await self._record(
            keys=[self._name(key)],
            args=[
                threshold,
                policy.lock_seconds,
                policy.max_lock_seconds,
                time.time(),
                policy.memory_seconds,
            ],
        )

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._name(key))

    async def aclose(self) -> None:
        await self._redis.aclose()


class LoginThrottle:
    def __init__(self, store: FailureStore, policy: ThrottlePolicy | None = None) -> None:
        self.store = store
        self.policy = policy or ThrottlePolicy()

    @staticmethod
    def _keys(email: str, address: str) -> tuple[str, str]:
        # Emails are hashed: the shared store holds no addresses in the clear.
        account = hashlib.sha256(email.encode()).hexdigest()[:32]
        return f"account:{account}", f"address:{address}"

    async def check(self, email: str, address: str) -> None:
        """Raise LoginLocked while the account or the address is locked."""
        wait = max([await self.store.locked_for(k) for k in self._keys(email, address)])
        if wait > 0:
            raise LoginLocked(wait)

    async def failed(self, email: str, address: str) -> None:
        account, client = self._keys(email, address)
        await self.store.record_failure(account, self.policy.account_failures, self.policy)
        await self.store.record_failure(client, self.policy.address_failures, self.policy)

    async def succeeded(self, email: str, address: str) -> None:
        for key in self._keys(email, address):
            await self.store.reset(key)

    async def aclose(self) -> None:
        await self.store.aclose()
