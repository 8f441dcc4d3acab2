"""The in-process state store's expiry, and MCP schemas as function specs."""

import pytest

from assistant.model_agent import Reply, parse_arguments
from assistant.specs import function_spec
from assistant.state import ConversationState, MemoryStateStore
from assistant.tools import ToolInfo


async def test_memory_state_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("assistant.state.time.monotonic", lambda: now[0])
    store = MemoryStateStore(ttl_seconds=10, max_entries=2)
    state = ConversationState(user_id="u")
    await store.save("a", state)
    assert await store.load("a") == state
    now[0] += 11
    assert await store.load("a") is None
    for key in ("b", "c", "d"):
        await store.save(key, state)
    assert await store.load("b") is None  # the oldest made room
    assert await store.load("d") == state


def test_function_spec_from_an_mcp_schema() -> None:
    info = ToolInfo("get_task", "One task.", {"type": "object", "title": "x"}, True, False)
    spec = function_spec(info)
    assert spec == {
        "type": "function",
        "function": {
            "name": "get_task",
            "description": "One task.",
            "parameters": {"type": "object", "properties": {}},
        },
    }


def test_arguments_must_be_a_json_object() -> None:
    assert parse_arguments('{"q": "milk"}') == ({"q": "milk"}, None)
    assert parse_arguments("") == ({}, None)
    bad, problem = parse_arguments('{"q": ')
    assert bad is None
    assert problem is not None
    assert "not valid JSON" in problem
    assert parse_arguments("[1]")[0] is None


def test_streamed_tool_calls_are_put_back_together() -> None:
    reply = Reply()
    reply.add_tool_delta(0, "c1", "find_", None)
    reply.add_tool_delta(1, "c2", "add_task", '{"ti')
    reply.add_tool_delta(0, None, "tasks", '{"q":')
    reply.add_tool_delta(0, None, None, ' "x"}')
    reply.add_tool_delta(1, None, None, 'tle": "y"}')
    assert [(c.id, c.name, c.arguments) for c in reply.calls] == [
        ("c1", "find_tasks", '{"q": "x"}'),
        ("c2", "add_task", '{"title": "y"}'),
    ]
