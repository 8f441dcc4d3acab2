"""A server killed (SIGKILL) right after a chat turn's `done` keeps the turn.

`done` goes out once the turn is written ahead; folding it into the
conversation happens later. The server runs with the fold held back for an
hour, so the kill always comes before the fold: what the restarted server
shows can only come from the turn written ahead, folded when it starts.
"""

import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from services.shared.db import create_engine
from services.shared.tables import chat_turns, conversation_messages, outbox_table
from tests.e2e.processes import TODO, Processes, poll, sign_up
from testsupport.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CHAT_EVENTS = ["chat.message.received", "chat.tool.called", "chat.message.answered"]


@pytest.fixture
async def server(
    database_url: str, key_file: Path, tmp_path: Path
) -> AsyncIterator[tuple[Processes, list[str], dict[str, str], str]]:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "DATABASE_URL", "CHAT_"))
    }
    env |= {
        # This checkout's code, wherever the package is installed from.
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path),
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        "LOCAL_USER": "false",
        "DEFAULT_TIMEZONE": "UTC",
        "EVENT_BUS": "memory",
        "CHAT_FOLD_DELAY_SECONDS": "3600",
    }
    argv = [TODO, "serve", "--service", "all", "--migrate", "--port", str(port)]
    procs = Processes(tmp_path)
    try:
        yield procs, argv, env, f"http://127.0.0.1:{port}"
    finally:
        procs.stop_all()


async def _rows(url: str, query: sa.Select[tuple[object]]) -> list[object]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(query)).scalars())
    finally:
        await engine.dispose()


async def _chat_until_done(client: httpx.AsyncClient, api: str, me: dict[str, str]) -> str:
    """The turn's conversation id, read from its `done`; the stream is left there."""
    async with client.stream(
        "POST", f"{api}/api/chat", headers=me, json={"message": "buy milk"}
    ) as response:
        assert response.status_code == 200
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event == "done":
                return str(json.loads(line.removeprefix("data:"))["conversation_id"])
    raise AssertionError("the stream ended without done")


async def test_a_turn_survives_a_kill_right_after_done(
    server: tuple[Processes, list[str], dict[str, str], str], database_url: str
) -> None:
    procs, argv, env, api = server
    procs.spawn("task-api", argv, env)
    await procs.wait_http("task-api", f"{api}/readyz", 200)
    async with httpx.AsyncClient(timeout=30) as client:
        _, me = await sign_up(client, api, "crash")
        conversation = await _chat_until_done(client, api, me)
        procs.kill("task-api")  # SIGKILL: no shutdown, no fold

        ahead = await _rows(database_url, sa.select(chat_turns.c.conversation_id))
        assert ahead == [uuid.UUID(conversation)]  # `done` came after the turn was durable
        assert await _rows(database_url, sa.select(conversation_messages.c.id)) == []

        procs.spawn("task-api", argv, env)
        await procs.wait_http("task-api", f"{api}/readyz", 200)
        # Folded when the server started, not by a read (no request has asked yet).
        saved = sa.select(conversation_messages.c.role).order_by(conversation_messages.c.position)
        assert await _rows(database_url, saved) == ["user", "assistant", "tool", "assistant"]
        assert await _rows(database_url, sa.select(chat_turns.c.id)) == []
        kinds = sa.select(outbox_table.c.event_type).order_by(outbox_table.c.id)

        async def chat_events() -> list[object]:
            found = [k for k in await _rows(database_url, kinds) if str(k).startswith("chat.")]
            return found if found == CHAT_EVENTS else []

        assert await poll(chat_events, timeout=10) == CHAT_EVENTS
        page = await client.get(f"{api}/api/conversations/{conversation}/messages", headers=me)
        assert page.status_code == 200, page.text
        assert page.json()["items"][0]["content"] == "buy milk"
