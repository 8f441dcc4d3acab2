"""Callers kept briefly (AUTH_CACHE_SECONDS), and everything that changes who
a token stands for seen on the very next request, here and, through Redis, in
the other processes of the deployment."""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.app import build_app
from services.bootstrap import Container, bootstrap
from services.shared.auth.store import AccountStore
from tests.conftest import MakeUser, User


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the store was asked who a token stands for."""
    counts = {"user_by_id": 0, "access_token_owner": 0}
    for name in counts:
        real = getattr(AccountStore, name)

        def spy(self: AccountStore, *args: Any, _real: Any = real, _name: str = name) -> Any:
            counts[_name] += 1
            return _real(self, *args)

        monkeypatch.setattr(AccountStore, name, spy)
    return counts


async def _pat(user: User) -> tuple[str, str]:
    made = await user.post("/api/auth/tokens", json={"name": "script"})
    assert made.status_code == 201, made.text
    return made.json()["id"], made.json()["token"]


async def test_a_cached_caller_is_not_read_again(alice: User, lookups: dict[str, int]) -> None:
    assert (await alice.get("/api/auth/me")).status_code == 200
    assert lookups["user_by_id"] == 1
    for _ in range(3):
        assert (await alice.get("/api/auth/me")).status_code == 200
    assert lookups["user_by_id"] == 1


async def test_zero_reads_every_time(
    container: Container, alice: User, lookups: dict[str, int]
) -> None:
    container.principals.ttl = 0
    for _ in range(3):
        assert (await alice.get("/api/auth/me")).status_code == 200
    assert lookups["user_by_id"] == 3


async def test_an_unknown_token_is_looked_up_every_time(
    client: httpx.AsyncClient, lookups: dict[str, int]
) -> None:
    headers = {"Authorization": "Bearer todo_pat_not-a-token"}
    for _ in range(2):
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 401
    assert lookups["access_token_owner"] == 2


async def test_a_revoked_personal_token_is_refused_on_the_next_request(
    alice: User, lookups: dict[str, int]
) -> None:
    token_id, token = await _pat(alice)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await alice.client.get("/api/auth/me", headers=headers)).status_code == 200
    assert (await alice.client.get("/api/auth/me", headers=headers)).status_code == 200
    assert lookups["access_token_owner"] == 1  # the second came from the cache
    assert (await alice.delete(f"/api/auth/tokens/{token_id}")).status_code == 204
    assert (await alice.client.get("/api/auth/me", headers=headers)).status_code == 401


async def test_a_profile_change_is_seen_on_the_next_request(alice: User) -> None:
    _, token = await _pat(alice)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await alice.client.get("/api/auth/me", headers=headers)).json()[
        "timezone"
    ] != "Asia/Tokyo"
    changed = await alice.patch(
        "/api/auth/me",
        json={"timezone": "Asia/Tokyo", "time_format": "24h", "display_name": "Al"},
    )
    assert changed.status_code == 200, changed.text
    me = (await alice.client.get("/api/auth/me", headers=headers)).json()
    assert (me["timezone"], me["time_format"], me["display_name"]) == ("Asia/Tokyo", "24h", "Al")
    me = (await alice.get("/api/auth/me")).json()  # the sign-in JWT's entry too
    assert me["timezone"] == "Asia/Tokyo"


async def test_a_deleted_account_is_refused_on_the_next_request(make_user: MakeUser) -> None:
    bob = await make_user()
    _, token = await _pat(bob)
    pat = {"Authorization": f"Bearer {token}"}
    assert (await bob.client.get("/api/auth/me", headers=pat)).status_code == 200
    assert (await bob.get("/api/auth/me")).status_code == 200
    assert (await bob.delete("/api/auth/me")).status_code == 204
    assert (await bob.get("/api/auth/me")).status_code == 401
    assert (await bob.client.get("/api/auth/me", headers=pat)).status_code == 401


async def test_a_jwt_entry_ends_with_the_token(
    container: Container, alice: User, lookups: dict[str, int]
) -> None:
    short = container.keys.issue(uuid.UUID(alice.id), timedelta(seconds=2))
    headers = {"Authorization": f"Bearer {short}"}
    # Kept no longer than the token's exp, though AUTH_CACHE_SECONDS is longer.
    container.principals.ttl = 300
    assert (await alice.client.get("/api/auth/me", headers=headers)).status_code == 200
    key_expiry = container.keys.expiry(short)
    assert key_expiry is not None
    deadline = time.monotonic() + 15
    while (await alice.client.get("/api/auth/me", headers=headers)).status_code == 200:
        assert time.monotonic() < deadline, "an expired token is still accepted"
        await asyncio.sleep(0.1)
    assert time.time() >= key_expiry  # refused only after its exp, never cached past it


async def _until(condition: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "the condition was not met in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def deployment(
    database_url: str, key_file: Path, tmp_path: Path
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two app processes of one deployment, each with its own cache, sharing Redis."""
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set: `make test` starts Redis")
    containers = []
    clients = []
    try:
        for n in (1, 2):
            c = bootstrap(
                database_url=database_url,
                jwt_private_key_file=key_file,
                data_dir=tmp_path / f"process-{n}",
                local_user=False,
                default_timezone="UTC",
                redis_url=redis_url,
                auth_cache_seconds=60,
            )
            containers.append(c)
            await c.invalidation.start()
            transport = httpx.ASGITransport(app=build_app(c))
            clients.append(httpx.AsyncClient(transport=transport, base_url="http://test"))
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for c in containers:
            await c.aclose()


async def test_revoked_in_one_process_refused_in_the_other(
    deployment: list[httpx.AsyncClient], lookups: dict[str, int]
) -> None:
    one, other = deployment
    email, password = f"u-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery"
    assert (
        await one.post("/api/auth/register", json={"email": email, "password": password})
    ).status_code == 201
    login = await one.post("/api/auth/login", json={"email": email, "password": password})
    jwt_headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    made = await one.post("/api/auth/tokens", json={"name": "script"}, headers=jwt_headers)
    pat = {"Authorization": f"Bearer {made.json()['token']}"}
    for _ in range(2):
        assert (await other.get("/api/auth/me", headers=pat)).status_code == 200
    assert lookups["access_token_owner"] == 1  # the other process keeps it
    revoked = await one.delete(f"/api/auth/tokens/{made.json()['id']}", headers=jwt_headers)
    assert revoked.status_code == 204
    assert (await one.get("/api/auth/me", headers=pat)).status_code == 401

    async def refused_in_the_other() -> bool:
        return (await other.get("/api/auth/me", headers=pat)).status_code == 401

    # Well within AUTH_CACHE_SECONDS=60: the invalidation came through Redis.
    await _until(refused_in_the_other, seconds=10)

    # A profile change made in one process is seen by the other as well.
    assert (await other.get("/api/auth/me", headers=jwt_headers)).json()["timezone"] == "UTC"
    changed = await one.patch("/api/auth/me", json={"timezone": "Asia/Tokyo"}, headers=jwt_headers)
    assert changed.status_code == 200

    async def seen_in_the_other() -> bool:
        me = await other.get("/api/auth/me", headers=jwt_headers)
        return bool(me.json()["timezone"] == "Asia/Tokyo")

    await _until(seen_in_the_other, seconds=10)
