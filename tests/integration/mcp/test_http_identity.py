"""Who the tools act as over HTTP: the bearer token of each request, nobody else."""

import httpx
import pytest

from tests.conftest import MakeUser, User
from tests.integration.mcp.conftest import McpServer, connect, structured

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


async def post_initialize(server: McpServer, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(server.mcp_url, json=INITIALIZE, headers={**ACCEPT, **headers})


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-token", "Bearer todo_pat_made-up", "Basic dXNlcjpwYXNz"],
)
async def test_without_a_valid_token_nothing_is_served(
    mcp_server: McpServer, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await post_initialize(mcp_server, **headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "result" not in response.text


async def test_each_token_sees_only_its_own_tasks(
    make_user: MakeUser, mcp_server: McpServer
) -> None:
    alice, bob = await make_user(), await make_user(timezone="Europe/Berlin")
    async with (
        connect(mcp_server.mcp_url, alice.token) as as_alice,
        connect(mcp_server.mcp_url, bob.token) as as_bob,
    ):
        # Interleaved on two live sessions: each call acts as its own connection's user.
        for n in range(3):
            await as_alice.call_tool("add_task", {"title": f"alice groceries {n}"})
            await as_bob.call_tool("add_task", {"title": f"bob groceries {n}", "tags": ["b"]})
        alices = structured(await as_alice.call_tool("find_tasks", {"q": "groceries"}))
        bobs = structured(await as_bob.call_tool("find_tasks", {"q": "groceries"}))
        bobs_zone = structured(await as_bob.call_tool("add_task", {"title": "zone"}))
    assert alices["total"] == bobs["total"] == 3
    assert {t["title"][:5] for t in alices["items"]} == {"alice"}
    assert {t["title"][:3] for t in bobs["items"]} == {"bob"}
    assert bobs_zone["timezone"] == "Europe/Berlin"
    assert (await alice.get("/api/tasks")).json()["total"] == 3


async def test_a_personal_access_token_works_until_revoked(
    alice: User, mcp_server: McpServer
) -> None:
    issued = await alice.post("/api/auth/tokens", json={"name": "claude-desktop"})
    assert issued.status_code == 201, issued.text
    pat = issued.json()["token"]
    assert pat.startswith("todo_pat_")
    async with connect(mcp_server.mcp_url, pat) as session:
        added = structured(await session.call_tool("add_task", {"title": "via PAT"}))
    mine = (await alice.get(f"/api/tasks/{added['id']}")).json()
    assert mine["title"] == "via PAT"
    revoked = await alice.delete(f"/api/auth/tokens/{issued.json()['id']}")
    assert revoked.status_code == 204
    assert (await post_initialize(mcp_server, Authorization=f"Bearer {pat}")).status_code == 401


async def test_requests_for_a_foreign_host_are_refused(alice: User, mcp_server: McpServer) -> None:
    """DNS rebinding: a page on another site must not reach /mcp through the browser."""
    auth = {"Authorization": f"Bearer {alice.token}"}
    foreign_host = await post_initialize(mcp_server, Host="attacker.example", **auth)
    foreign_origin = await post_initialize(mcp_server, Origin="http://attacker.example", **auth)
    same_origin = await post_initialize(mcp_server, Origin=mcp_server.url, **auth)
    assert foreign_host.status_code == 421
    assert foreign_origin.status_code == 403
    assert same_origin.status_code == 200


async def test_other_routes_are_untouched(mcp_server: McpServer) -> None:
    async with httpx.AsyncClient(base_url=mcp_server.url, timeout=10) as http:
        health = await http.get("/healthz")
        unknown = await http.get("/mcp-nope")
        openapi = (await http.get("/openapi.json")).json()
    assert health.status_code == 200
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "/mcp" not in openapi["paths"]
