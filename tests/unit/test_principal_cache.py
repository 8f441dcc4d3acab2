"""The cache of resolved callers: expiry, the token's own `exp`, the LRU
bound, failures never kept, invalidation and AUTH_CACHE_SECONDS's bounds."""

import time
import uuid

import pytest
from pydantic import ValidationError

from services.errors import AuthError
from services.shared.auth.cache import PrincipalCache, credential_key
from services.shared.auth.invalidation import LocalInvalidation
from services.shared.settings import Settings, settings_error


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_key_is_a_digest_not_the_token() -> None:
    key = credential_key("todo_pat_secret")
    assert "todo_pat_secret" not in key
    assert key == credential_key("todo_pat_secret")
    assert key != credential_key("todo_pat_secret", "mcp:https://x/mcp")


def test_an_entry_lasts_the_ttl() -> None:
    clock = Clock()
    cache = PrincipalCache(10, clock=clock)
    cache.put("k", "alice", user_id=uuid.uuid4())
    clock.now += 9.9
    assert cache.get("k") == "alice"
    clock.now += 0.2
    assert cache.get("k") is None


def test_an_entry_never_outlives_the_tokens_exp() -> None:
    clock = Clock()
    cache = PrincipalCache(30, clock=clock)
    cache.put("soon", "alice", user_id=uuid.uuid4(), expires_at=time.time() + 2)
    cache.put("past", "alice", user_id=uuid.uuid4(), expires_at=time.time() - 1)
    assert cache.get("past") is None
    assert cache.get("soon") == "alice"
    clock.now += 3
    assert cache.get("soon") is None


def test_the_least_recently_used_goes_first() -> None:
    cache = PrincipalCache(10, max_entries=2)
    for key in ("a", "b"):
        cache.put(key, key, user_id=uuid.uuid4())
    assert cache.get("a") == "a"  # b is now the least recently used
    cache.put("c", "c", user_id=uuid.uuid4())
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("a", None, "c")


def test_zero_keeps_nothing() -> None:
    cache = PrincipalCache(0)
    cache.put("k", "alice", user_id=uuid.uuid4())
    assert not cache.enabled
    assert cache.get("k") is None


async def test_a_failure_is_not_kept() -> None:
    cache = PrincipalCache(10)
    loads = 0

    async def refused() -> str:
        nonlocal loads
        loads += 1
        raise AuthError("unknown token")

    for _ in range(2):
        with pytest.raises(AuthError):
            await cache.resolve("k", refused, lambda v: (uuid.uuid4(), None, None))
    assert loads == 2
    assert len(cache) == 0


async def test_a_hit_does_not_load() -> None:
    cache = PrincipalCache(10)
    user = uuid.uuid4()
    loads = 0

    async def load() -> str:
        nonlocal loads
        loads += 1
        return "alice"

    for _ in range(3):
        assert await cache.resolve("k", load, lambda v: (user, None, None)) == "alice"
    assert loads == 1


def test_invalidation_drops_the_users_and_the_grants_entries_only() -> None:
    cache = PrincipalCache(10)
    alice, bob, grant = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cache.put("alice-jwt", "a", user_id=alice)
    cache.put("alice-pat", "a", user_id=alice)
    cache.put("bob-jwt", "b", user_id=bob)
    cache.put("bob-oauth", "b", user_id=bob, grant_id=grant)
    invalidation = LocalInvalidation(cache)
    invalidation.changed([("user", alice)])
    assert cache.get("alice-jwt") is None
    assert cache.get("alice-pat") is None
    assert cache.get("bob-oauth") == "b"
    invalidation.changed([("grant", grant)])
    assert cache.get("bob-oauth") is None
    assert cache.get("bob-jwt") == "b"


async def test_a_lookup_that_raced_an_invalidation_is_not_kept() -> None:
    """Read before a revocation committed, stored after it: would be stale."""
    cache = PrincipalCache(10)
    user = uuid.uuid4()

    async def load() -> str:
        cache.drop_user(user)  # the revocation commits while this lookup reads
        return "before the revocation"

    await cache.resolve("k", load, lambda v: (user, None, None))
    assert cache.get("k") is None


@pytest.mark.parametrize("value", ["-1", "301", "soon"])
def test_bad_auth_cache_seconds_name_the_setting_and_its_bounds(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTH_CACHE_SECONDS", value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    message = settings_error(caught.value)
    assert message.startswith(f"AUTH_CACHE_SECONDS={value!r}: ")
    assert any(
        word in message
        for word in ("greater than or equal to 0", "less than or equal to 300", "valid number")
    )


def test_auth_cache_seconds_zero_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_CACHE_SECONDS", "0")
    assert Settings().auth_cache_seconds == 0
    monkeypatch.delenv("AUTH_CACHE_SECONDS")
    assert 0 < Settings().auth_cache_seconds <= 30
