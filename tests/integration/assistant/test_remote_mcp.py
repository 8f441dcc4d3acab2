"""MCP_URL: the tools over streamable HTTP, as the caller's own token, through a
real server (uvicorn) that streams the chat events as they happen."""

from collections.abc import AsyncIterator

import httpx
import pytest

from assistant.chat import Assistant
from assistant.stream import ChatEvent
from assistant.tools import InProcessTools, RemoteTools
from services.bootstrap import Container
from tests.conftest import MakeUser, User
from tests.integration.assistant.conftest import (
    CHAT_PATH,
    chat_app,
    parse_sse,
    principal_of,
    titles,
)
from tests.integration.mcp.conftest import serve


@pytest.fixture
async def live_url(container: Container, assistant: Assistant) -> AsyncIterator[str]:
    async for url in serve(chat_app(container, assistant)):
        in_process = assistant.tools
        assert isinstance(in_process, InProcessTools)
        await in_process.aclose()  # started by the app's lifespan
        assistant.tools = RemoteTools(url + "/mcp")
        yield url


async def test_tools_over_http_act_as_the_callers_token(
    live_url: str, alice: User, make_user: MakeUser
) -> None:
    bob = await make_user()
    await bob.add(title="Bob's milk")
    events = []
    async with (
        httpx.AsyncClient(base_url=live_url, headers=alice.headers, timeout=30) as http,
        http.stream("POST", CHAT_PATH, json={"message": "buy milk tomorrow"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = ""
        async for chunk in response.aiter_text():
            body += chunk
        events = parse_sse(body)
    names = [name for name, _ in events]
    assert names[:2] == ["tool_call", "tool_result"]
    assert names[-1] == "done"
    assert await titles(alice) == ["Buy milk"]
    assert await titles(bob) == ["Bob's milk"]

    async with httpx.AsyncClient(base_url=live_url, headers=bob.headers, timeout=30) as http:
        found = await http.post(CHAT_PATH, json={"message": "show my tasks"})
    text = "".join(data["text"] for name, data in parse_sse(found.text) if name == "token")
    assert "Bob's milk" in text
    assert "Buy milk" not in text


async def run_turn(assistant: Assistant, user: User, token: str | None) -> list[ChatEvent]:
    turn = await assistant.open_turn(principal_of(user), "buy milk", token=token)
    seen: list[ChatEvent] = []

    async def emit(event: ChatEvent) -> None:
        seen.append(event)

    await turn.run(emit)
    return seen


async def test_without_a_token_the_remote_tools_refuse(assistant: Assistant, alice: User) -> None:
    assistant.tools = RemoteTools("http://127.0.0.1:9/mcp")
    (only,) = await run_turn(assistant, alice, None)
    assert only.event == "error"
    assert "token" in only.data["detail"]


async def test_an_unreachable_mcp_server_is_an_error_event(
    assistant: Assistant, alice: User
) -> None:
    assistant.tools = RemoteTools("http://127.0.0.1:9/mcp", timeout=2)
    (only,) = await run_turn(assistant, alice, alice.token)
    assert only.event == "error"
    assert "unavailable" in only.data["detail"]
    assert await titles(alice) == []
