"""The real task-api app with `/mcp` mounted, served by uvicorn, and clients for it.

Until `build_app` mounts MCP itself, the app is composed here the way it will
be: `mount_mcp(app)` plus `mcp_lifespan(app)` inside the app's lifespan.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
import uvicorn
from fastapi import FastAPI
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Tool

from mcp_server.http import MCP_PATH, mcp_lifespan, mount_mcp
from services.bootstrap import Container
from services.tasks.main import build_app
from tests.conftest import User


def app_with_mcp(container: Container) -> FastAPI:
    app = build_app(container)
    if any(getattr(route, "path", None) == MCP_PATH for route in app.routes):
        return app  # build_app mounts it already
    mount_mcp(app)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[Any]:
        async with inner(running) as state, mcp_lifespan(running):
            yield state

    app.router.lifespan_context = lifespan
    return app


@dataclass
class McpServer:
    url: str

    @property
    def mcp_url(self) -> str:
        return self.url + MCP_PATH


async def serve(app: FastAPI) -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def mcp_server(container: Container) -> AsyncIterator[McpServer]:
    async for url in serve(app_with_mcp(container)):
        yield McpServer(url)


def connect(url: str, token: str | None) -> AbstractAsyncContextManager[ClientSession]:
    """An initialized official-SDK session over streamable HTTP."""

    @asynccontextmanager
    async def session() -> AsyncIterator[ClientSession]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as mcp,
        ):
            await mcp.initialize()
            yield mcp

    return session()


@pytest.fixture
def session_for(mcp_server: McpServer) -> Any:
    def open_session(user: User) -> AbstractAsyncContextManager[ClientSession]:
        return connect(mcp_server.mcp_url, user.token)

    return open_session


def text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text(result)
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


async def tools_by_name(session: ClientSession) -> dict[str, Tool]:
    return {tool.name: tool for tool in (await session.list_tools()).tools}
