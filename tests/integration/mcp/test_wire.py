"""Wire compatibility, checked without the SDK: JSON-RPC over plain httpx,
as the MCP streamable HTTP transport (2025-11-25) describes it.

The client offers both JSON and SSE answers and handles either, sends the
session id back if the server hands one out, and reads the MCP wire names
(camelCase), so a mistake both the SDK's server and client share still fails.
"""

import json
from itertools import count
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import User
from tests.integration.mcp.conftest import McpServer

PROTOCOL = "2025-11-25"


class RawClient:
    def __init__(self, http: httpx.AsyncClient, url: str, token: str) -> None:
        self.http = http
        self.url = url
        self.token = token
        self.session_id: str | None = None
        self.protocol: str | None = None
        self._ids = count(1)

    def _headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol:
            headers["MCP-Protocol-Version"] = self.protocol
        return headers

    async def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        message_id = next(self._ids)
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": message_id, "method": method}
        if params is not None:
            body["params"] = params
        response = await self.http.post(self.url, json=body, headers=self._headers())
        assert response.status_code == 200, response.text
        self.session_id = response.headers.get("Mcp-Session-Id", self.session_id)
        answer = next(m for m in _messages(response) if m.get("id") == message_id)
        assert answer["jsonrpc"] == "2.0"
        return answer

    async def notify(self, method: str) -> httpx.Response:
        body = {"jsonrpc": "2.0", "method": method}
        return await self.http.post(self.url, json=body, headers=self._headers())

    async def close(self) -> None:
        if self.session_id:
            response = await self.http.delete(self.url, headers=self._headers())
            assert response.status_code in (200, 204, 405)


def _messages(response: httpx.Response) -> list[dict[str, Any]]:
    kind = response.headers["content-type"].split(";")[0].strip()
    if kind == "application/json":
        parsed = response.json()
        return parsed if isinstance(parsed, list) else [parsed]
    assert kind == "text/event-stream", kind
    messages = []
    for event in response.text.replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].lstrip() for line in event.split("\n") if line.startswith("data:")]
        if data and "".join(data).strip():
            messages.append(json.loads("\n".join(data)))
    return messages


async def test_a_plain_json_rpc_client_can_use_every_step(
    alice: User, mcp_server: McpServer
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        raw = RawClient(http, mcp_server.mcp_url, alice.token)
        init = await raw.request(
            "initialize",
            {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "raw-httpx", "version": "1"},
            },
        )
        result = init["result"]
        assert result["protocolVersion"] == PROTOCOL
        assert result["serverInfo"]["name"] == "todo-app"
        assert "tools" in result["capabilities"]
        assert "RRULE" in result["instructions"]
        raw.protocol = result["protocolVersion"]
        assert (await raw.notify("notifications/initialized")).status_code == 202

        assert (await raw.request("ping"))["result"] == {}
        tools = (await raw.request("tools/list"))["result"]["tools"]
        assert len(tools) == 11
        for tool in tools:
            assert set(tool) >= {"name", "title", "description", "inputSchema", "outputSchema"}
            assert set(tool["annotations"]) == {
                "title",
                "readOnlyHint",
                "destructiveHint",
                "idempotentHint",
                "openWorldHint",
            }

        added = await raw.request(
            "tools/call",
            {"name": "add_task", "arguments": {"title": "Wire check", "due_at": "2030-01-02"}},
        )
        call = added["result"]
        assert call["isError"] is False
        assert call["content"][0]["type"] == "text"
        assert call["content"][0]["text"].startswith('Added "Wire check"')
        task = call["structuredContent"]
        assert task["due_at"] == "2030-01-02T23:59:00-05:00"

        found = await raw.request("tools/call", {"name": "find_tasks", "arguments": {"q": "wire"}})
        assert [t["id"] for t in found["result"]["structuredContent"]["items"]] == [task["id"]]

        # A bad argument is a tool result with isError, not a JSON-RPC error.
        bad = await raw.request(
            "tools/call", {"name": "get_task", "arguments": {"task_id": "not-an-id"}}
        )
        assert "error" not in bad
        assert bad["result"]["isError"] is True
        assert bad["result"]["content"][0]["text"].startswith("task_id: ")

        unknown = await raw.request("no/such/method")
        assert unknown["error"]["code"] == -32601
        await raw.close()


async def test_the_sdk_client_in_auto_mode(alice: User, mcp_server: McpServer) -> None:
    """The SDK's default connect: it finds the server speaks the 2026-07-28
    protocol (no initialize, no session; every request stands alone)."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice.token}"}) as http,
        Client(streamable_http_client(mcp_server.mcp_url, http_client=http)) as client,
    ):
        added = await client.call_tool("add_task", {"title": "auto mode"})
        found = await client.call_tool("find_tasks", {"q": "auto"})
        protocol = client.session.protocol_version
    assert protocol == "2026-07-28"
    assert not added.is_error
    assert added.structured_content is not None
    mine = await alice.get(f"/api/tasks/{added.structured_content['id']}")
    assert mine.status_code == 200
    assert found.structured_content is not None
    assert [t["title"] for t in found.structured_content["items"]] == ["auto mode"]
