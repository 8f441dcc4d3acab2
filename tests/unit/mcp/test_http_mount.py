"""The `/mcp` route before the server runs, and the host/origin allow-lists."""

import httpx
from fastapi import FastAPI

from mcp_server.http import MCP_PATH, mount_mcp, transport_security


async def test_the_route_answers_503_until_the_lifespan_runs_the_server() -> None:
    app = FastAPI()
    mount_mcp(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        response = await http.post(MCP_PATH, json={})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_hosts_are_loopback_and_the_public_url() -> None:
    security = transport_security("https://todo.example.com")
    assert "todo.example.com" in security.allowed_hosts
    assert "127.0.0.1:*" in security.allowed_hosts
    assert "https://todo.example.com" in security.allowed_origins
    assert not any("attacker" in host for host in security.allowed_hosts)
    local = transport_security("http://127.0.0.1:8000")
    assert "127.0.0.1:8000" in local.allowed_hosts
    assert "http://127.0.0.1:8000" in local.allowed_origins
