"""A database out of reach (restarting, or a connection it dropped) is a 503 with
Retry-After, not a 500: the same request works again once it is back."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from services.app import build_app
from tests.conftest import app_container, end_other_backends
from testsupport.ports import free_port

PASSWORD = "correct horse battery"


@asynccontextmanager
async def _client(
    database_url: str, key_file: Path, data_dir: Path
) -> AsyncIterator[httpx.AsyncClient]:
    container = app_container(database_url, key_file, data_dir)
    transport = httpx.ASGITransport(app=build_app(container))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await container.aclose()


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "2"
    assert "try again" in response.json()["detail"]


async def test_a_database_nobody_answers_on_is_a_503_with_retry_after(
    key_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = f"postgresql+asyncpg://todo:todo@127.0.0.1:{free_port()}/todo"
    async with _client(nowhere, key_file, tmp_path) as client:
        signing_up = await client.post(
            "/api/auth/register",
            json={"email": "someone@example.com", "password": PASSWORD, "timezone": "UTC"},
        )
        _unavailable(signing_up)
        # A token cannot be checked either: unavailable, not "unauthorized".
        listing = await client.get("/api/tasks", headers={"Authorization": "Bearer todo_x"})
        _unavailable(listing)
    assert "unreachable" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]


async def test_after_the_server_dropped_the_connections_a_request_fails_softly_then_works(
    postgres_migrated: str, key_file: Path, tmp_path: Path
) -> None:
    async with _client(postgres_migrated, key_file, tmp_path) as client:
        email = f"{tmp_path.name}@example.com"
        body = {"email": email, "password": PASSWORD, "timezone": "UTC"}
        assert (await client.post("/api/auth/register", json=body)).status_code == 201
        assert await end_other_backends(postgres_migrated) >= 1
        login = {"email": email, "password": PASSWORD}
        # No check before each use (that would cost every request a round trip):
        # the first request meets a dropped connection, which the pool then discards.
        _unavailable(await client.post("/api/auth/login", json=login))
        again = await client.post("/api/auth/login", json=login)
        assert again.status_code == 200, again.text
