"""Two task-api replicas on one PostgreSQL and one Redis: a change made
through one reaches the WebSockets held by the other."""

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from services.bootstrap import Container, bootstrap
from tests.conftest import TABLES, LiveServer, _sql, serve_app
from tests.integration.events.test_event_flow import eventually, register


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: `make test` starts Redis")
    return url


@pytest.fixture
async def replicas(
    postgres_migrated: str, redis_url: str, key_file: Path, tmp_path: Path
) -> AsyncIterator[list[LiveServer]]:
    await _sql(postgres_migrated, f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    containers: list[Container] = [
        bootstrap(
            database_url=postgres_migrated,
            redis_url=redis_url,
            jwt_private_key_file=key_file,
            data_dir=tmp_path,
            local_user=False,
            default_timezone="UTC",
        )
        for _ in range(2)
    ]
    servers = [serve_app(c) for c in containers]
    live = [await anext(s) for s in servers]
    try:
        yield live
    finally:
        for server in servers:
            await server.aclose()


async def test_a_change_on_one_replica_reaches_sockets_on_the_other(
    replicas: list[LiveServer],
) -> None:
    first, second = replicas
    async with httpx.AsyncClient() as client:
        token, headers = await register(client, first.url)
        async with websockets.connect(f"{second.ws_url}?token={token}") as socket:
            await eventually(lambda: second.container.realtime.hub.count() == 1)
            created = (
                await client.post(
                    f"{first.url}/api/tasks", headers=headers, json={"title": "cross-replica"}
                )
            ).json()
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                if message["type"] != "ping":
                    break
    assert message["type"] == "task.created"
    assert message["data"]["task"]["id"] == created["id"]
