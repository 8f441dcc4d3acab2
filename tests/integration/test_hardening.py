"""Security headers, body limits and HTTP metrics on every response."""

import httpx

from tests.conftest import User


async def test_security_headers_on_api_and_errors(client: httpx.AsyncClient, alice: User) -> None:
    for response in (
        await alice.get("/api/tasks"),
        await client.get("/api/tasks"),
        await client.get("/healthz"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers
    behind_tls = await client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "max-age" in behind_tls.headers["strict-transport-security"]
    docs = await client.get("/docs")  # its own policy, with a nonce for Swagger UI's start-up
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


async def test_an_oversized_body_is_refused_before_it_is_read(alice: User) -> None:
    big = b'{"title": "' + b"x" * (2 << 20) + b'"}'
    response = await alice.post(
        "/api/tasks", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert (await alice.get("/api/tasks")).json()["total"] == 0


async def test_http_metrics_by_route(client: httpx.AsyncClient, alice: User) -> None:
    await alice.add(title="counted")
    await alice.get("/api/tasks/00000000-0000-0000-0000-000000000000")
    text = (await client.get("/metrics")).text
    assert 'todo_http_requests_total{method="POST",route="/api/tasks",status="201"}' in text
    assert 'route="/api/tasks/{task_id}",status="404"' in text
    assert "todo_http_request_duration_seconds_bucket" in text


async def test_rate_limits_answer_429_with_retry_after(container: object) -> None:
    from services.app import build_app
    from services.bootstrap import Container

    assert isinstance(container, Container)
    container.settings = container.settings.model_copy(
        update={"rate_limit_auth_per_minute": 3, "rate_limit_per_user_per_second": 5}
    )
    transport = httpx.ASGITransport(app=build_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        body = {"email": "limit@example.com", "password": "pw-12345678"}
        assert (await client.post("/api/auth/register", json=body)).status_code == 201
        token = (await client.post("/api/auth/login", json=body)).json()["access_token"]
        await client.post("/api/auth/login", json={**body, "password": "wrong-guess"})
        refused = await client.post("/api/auth/login", json=body)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["content-type"] == "application/problem+json"
        headers = {"Authorization": f"Bearer {token}"}
        statuses = [(await client.get("/api/tasks", headers=headers)).status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5
        assert 429 in statuses[5:]


async def test_replicas_share_the_redis_counters() -> None:
    import os
    import uuid

    import pytest

    from services.shared.ratelimit import RedisRateLimiter

    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: `make test` starts Redis")
    first, second = RedisRateLimiter(url), RedisRateLimiter(url)
    key = f"test:{uuid.uuid4().hex}"
    try:
        results = [await (first if n % 2 else second).hit(key, 4, 60) for n in range(6)]
    finally:
        await first.aclose()
        await second.aclose()
    assert results[:4] == [None] * 4
    assert all(wait is not None and 0 < wait <= 60 for wait in results[4:])


async def test_a_redis_window_ends_and_a_restarted_server_loses_nothing() -> None:
    """The counter's window starts at the key's first request and ends with it;
    a server that lost its scripts (a restart, SCRIPT FLUSH) is given the
    script again; a counter found without an expiry is given one."""
    import asyncio
    import os
    import time
    import uuid

    import pytest
    import redis.asyncio as redis

    from services.shared.ratelimit import RedisRateLimiter

    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: `make test` starts Redis")
    limiter, admin = RedisRateLimiter(url), redis.Redis.from_url(url)
    key = f"test:{uuid.uuid4().hex}"
    try:
        assert [await limiter.hit(key, 2, 0.3) for _ in range(3)][:2] == [None, None]
        wait = await limiter.hit(key, 2, 0.3)
        assert wait is not None
        assert 0 < wait <= 0.3
        deadline = time.monotonic() + 10
        while await admin.exists(f"todo:rl:{key}"):  # the window's end
            assert time.monotonic() < deadline, "the counter outlived its window"
            await asyncio.sleep(0.05)
        assert await limiter.hit(key, 2, 0.3) is None

        await admin.script_flush()
        assert await limiter.hit(key, 2, 0.3) is None
        assert await limiter.hit(key, 2, 0.3) is not None

        stuck = f"todo:rl:{key}-stuck"
        await admin.set(stuck, 50)  # no expiry: once, it would have blocked forever
        wait = await limiter.hit(f"{key}-stuck", 2, 60)
        assert wait is not None
        assert 0 < wait <= 60
        assert 0 < await admin.pttl(stuck) <= 60_000
    finally:
        await limiter.aclose()
        await admin.aclose()


async def test_the_page_is_served_but_not_its_development_tooling(container: object) -> None:
    """/static serves the page's files; web/'s package.json, installed node_modules and
    JavaScript unit tests stay on the disk, however the path is spelled."""
    from services.app import WEB_DIR, build_app
    from services.bootstrap import Container

    assert isinstance(container, Container)
    assert (WEB_DIR / "package.json").exists()
    assert (WEB_DIR / "test").is_dir()
    transport = httpx.ASGITransport(app=build_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/static/app.css")).status_code == 200
        assert (await client.get("/static/js/store.js")).status_code == 200
        for path in (
            "/static/package.json",
            "/static/package-lock.json",
            "/static/jsconfig.json",
            "/static/test/store.test.js",
            "/static/js/../package.json",
            "/static/node_modules/typescript/package.json",
        ):
            assert (await client.get(path)).status_code == 404, path
