"""Unknown names are invalid params (-32602), answered as JSON-RPC errors to the
real client, never as an error result nor with code 0."""

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from tests.conftest import User
from tests.integration.mcp.conftest import McpServer, connect, structured


async def test_an_unknown_prompt_is_invalid_params(mcp_server: McpServer, alice: User) -> None:
    async with connect(mcp_server.mcp_url, alice.token) as session:
        with pytest.raises(MCPError) as refused:
            await session.get_prompt("no_such_prompt")
        assert refused.value.code == INVALID_PARAMS
        assert "no_such_prompt" in refused.value.message
        # The session goes on, and a known prompt still renders.
        assert (await session.get_prompt("plan_my_day")).messages


async def test_an_unknown_tool_is_invalid_params(mcp_server: McpServer, alice: User) -> None:
    async with connect(mcp_server.mcp_url, alice.token) as session:
        with pytest.raises(MCPError) as refused:
            await session.call_tool("no_such_tool", {"title": "x"})
        assert refused.value.code == INVALID_PARAMS
        assert "no_such_tool" in refused.value.message
        # A known tool's own failure is still a result the model can read.
        failed = await session.call_tool("add_task", {"title": ""})
        assert failed.is_error
        assert structured(await session.call_tool("add_task", {"title": "still here"}))
