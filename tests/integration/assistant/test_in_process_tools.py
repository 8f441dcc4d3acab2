"""The assistant's in-process tool session: it takes this process's own MCP
server at its word (no second schema check on the client), which is safe only
because the server itself refuses to answer with output that breaks a tool's
declared output model."""

from typing import Any

import pytest
from mcp_types import CallToolResult, TextContent

from assistant.chat import Assistant
from assistant.tools import InProcessTools, ToolOutcome
from mcp_server import views
from services.bootstrap import Container
from tests.conftest import User
from tests.integration.assistant.conftest import principal_of


def in_process(assistant: Assistant) -> InProcessTools:
    tools = assistant.tools
    assert isinstance(tools, InProcessTools)
    return tools


async def call(
    tools: InProcessTools, user: User, name: str, arguments: dict[str, Any]
) -> ToolOutcome:
    async with tools.connect(principal_of(user), None) as session:
        return await session.call(name, arguments)


async def test_a_result_that_breaks_the_output_model_is_an_error_not_data(
    assistant: Assistant, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    await alice.add(title="Water the plants")

    def broken(summary: str, output: Any) -> CallToolResult:
        # `items` must be a list of tasks: a string here breaks the TaskList model.
        return CallToolResult(
            content=[TextContent(type="text", text=summary)],
            structured_content={**output.model_dump(mode="json"), "items": "not a list"},
        )

    monkeypatch.setattr(views, "result", broken)
    outcome = await call(in_process(assistant), alice, "find_tasks", {})
    assert not outcome.ok
    assert outcome.structured is None
    assert "not a list" not in outcome.text


async def test_the_in_process_result_is_what_a_checking_client_gets(
    container: Container, assistant: Assistant, alice: User
) -> None:
    for title in ("Water the plants", "Call the plumber", "Buy stamps"):
        await alice.add(title=title, tags=["home"])
    fast = await call(in_process(assistant), alice, "find_tasks", {"tags": ["home"]})
    assert fast.ok, fast.text
    assert fast.structured is not None
    assert sorted(t["title"] for t in fast.structured["items"]) == [
        "Buy stamps",
        "Call the plumber",
        "Water the plants",
    ]
    # The SDK's own client path, which checks every result against the listed schema.
    checked = InProcessTools(container.uow, check_results=True)
    assert await call(checked, alice, "find_tasks", {"tags": ["home"]}) == fast
