"""Token economy: what a model is given for the tools each turn (name, description,
input schema of every tool, as `tools/list` hands them to a client) stays under
8,000 characters of compact JSON, about 2,000 tokens."""

import json
from typing import Any

from tests.conftest import User
from tests.integration.mcp.conftest import tools_by_name
from tests.integration.mcp.test_catalog import CONTRACT_TOOLS

BUDGET = 8_000


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def test_tool_definitions_fit_the_budget(alice: User, session_for: Any) -> None:
    async with session_for(alice) as session:
        tools = await tools_by_name(session)
    given: list[dict[str, Any]] = [
        {"name": t.name, "description": t.description, "inputSchema": t.input_schema}
        for t in tools.values()
    ]
    size = len(compact(given))
    per_tool = sorted(((len(compact(d)), d["name"]) for d in given), reverse=True)
    print(
        f"\nMCP tool definitions: {size} characters of compact JSON for {len(given)} tools"
        f" (budget {BUDGET}; about {size // 4} tokens at 4 characters a token)"
    )
    for chars, name in per_tool:
        print(f"  {name:<20} {chars:>5}")
    assert set(tools) == CONTRACT_TOOLS, "the budget covers every tool"
    assert all(d["description"] and d["inputSchema"]["properties"] for d in given)
    assert size < BUDGET, f"{size} characters of tool definitions; the budget is {BUDGET}"
