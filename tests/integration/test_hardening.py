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
    docs = await client.get("/docs")
    assert "content-security-policy" not in docs.headers  # Swagger UI loads its assets


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
