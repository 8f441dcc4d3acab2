"""What a client sees before calling anything: tools, schemas, hints, instructions."""

from typing import Any

from mcp_types import Tool

from tests.conftest import User
from tests.integration.mcp.conftest import connect, tools_by_name

CONTRACT_TOOLS = {
    "add_task",
    "find_tasks",
    "get_task",
    "update_task",
    "complete_task",
    "reopen_task",
    "delete_task",
    "restore_task",
    "skip_occurrence",
    "set_reminder",
    "preview_recurrence",
}
ONE_TASK_TOOLS = {
    "get_task",
    "update_task",
    "complete_task",
    "reopen_task",
    "delete_task",
    "restore_task",
    "skip_occurrence",
    "set_reminder",
}
READ_ONLY = {"find_tasks", "get_task", "preview_recurrence"}
DESTRUCTIVE = {"update_task", "delete_task"}
TASK_FIELDS = {
    "title",
    "description",
    "priority",
    "tags",
    "due_at",
    "remind_at",
    "timezone",
    "recurrence_rule",
    "repeat_from",
}
TASK_QUERY = {
    "q",
    "status",
    "priority",
    "tags",
    "due_after",
    "due_before",
    "overdue",
    "is_recurring",
    "sort_by",
    "sort_order",
    "page",
    "limit",
}


def _property_names(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        names = set(schema.get("properties", {}))
        return names.union(*(_property_names(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_property_names(v) for v in schema))
    return set()


def _check_tool(tool: Tool) -> None:
    assert len(tool.description or "") > 30, tool.name
    assert tool.title, tool.name
    hints = tool.annotations
    assert hints is not None, tool.name
    assert hints.title == tool.title
    assert hints.read_only_hint == (tool.name in READ_ONLY), tool.name
    assert hints.destructive_hint == (tool.name in DESTRUCTIVE), tool.name
    assert hints.idempotent_hint is not None, tool.name
    assert hints.open_world_hint is False, tool.name
    assert tool.input_schema["type"] == "object"
    assert (tool.output_schema or {}).get("type") == "object", tool.name
    # The user comes from the connection; no tool may let a model name one.
    assert not any("user" in name for name in _property_names(tool.input_schema)), tool.name


async def test_tools_are_the_contracts_with_schemas_and_hints(alice: User, mcp_server: Any) -> None:
    async with connect(mcp_server.mcp_url, alice.token) as session:
        tools = await tools_by_name(session)
    assert set(tools) == CONTRACT_TOOLS
    for tool in tools.values():
        _check_tool(tool)
    for name in ONE_TASK_TOOLS:
        schema = tools[name].input_schema
        assert schema["required"][0] == "task_id", name
        assert schema["properties"]["task_id"]["format"] == "uuid", name
    assert set(tools["add_task"].input_schema["properties"]) == TASK_FIELDS
    assert set(tools["add_task"].input_schema["required"]) == {"title"}
    assert set(tools["update_task"].input_schema["properties"]) == TASK_FIELDS | {
        "task_id",
        "clear",
    }
    assert set(tools["find_tasks"].input_schema["properties"]) == TASK_QUERY
    preview = tools["preview_recurrence"].input_schema
    assert set(preview["properties"]) == {"rule", "start", "timezone", "count"}
    due = tools["add_task"].input_schema["properties"]["due_at"]
    assert due["type"] == "string"
    assert "title" not in due


async def test_instructions_and_the_planning_prompt(alice: User, mcp_server: Any) -> None:
    async with connect(mcp_server.mcp_url, alice.token) as session:
        instructions = session.instructions or ""
        prompts = (await session.list_prompts()).prompts
        plan = await session.get_prompt("plan_my_day")
    for convention in ("wall-clock", "timezone", "RRULE", "find_tasks", "task_id"):
        assert convention in instructions
    assert [p.name for p in prompts] == ["plan_my_day"]
    assert "find_tasks" in str(plan.messages[0].content)
