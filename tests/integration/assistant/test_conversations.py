"""The chat history API and the chat events: each user sees only their own."""

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from assistant.chat import Assistant
from events.outbox import outbox_table
from services.bootstrap import Container
from tests.conftest import MakeUser, User
from tests.integration.assistant.conftest import CHAT_PATH, outbox_types, say


async def test_conversations_and_their_messages(alice: User) -> None:
    first = await say(alice, "buy milk")
    second = await say(alice, "show my tasks", first.conversation_id)
    assert second.conversation_id == first.conversation_id
    other = await say(alice, "hello")

    listed = (await alice.get("/api/conversations")).json()
    assert listed["total"] == 2
    assert [c["id"] for c in listed["items"]] == [other.conversation_id, first.conversation_id]
    assert listed["items"][1]["title"] == "buy milk"

    page = (await alice.get(f"/api/conversations/{first.conversation_id}/messages")).json()
    roles = [m["role"] for m in page["items"]]
    assert roles == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert page["total"] == 8
    assert page["items"][0]["content"] == "buy milk"
    assert page["items"][1]["tool_calls"][0]["name"] == "add_task"
    assert page["items"][3]["id"] == first.done["message_id"]
    assert page["items"][-1]["id"] == second.done["message_id"]
    assert page["items"][-1]["content"].startswith("1 task:")


async def test_another_users_conversation_is_not_found(alice: User, make_user: MakeUser) -> None:
    bob = await make_user()
    mine = await say(alice, "buy milk")
    assert (await bob.get("/api/conversations")).json()["total"] == 0
    response = await bob.get(f"/api/conversations/{mine.conversation_id}/messages")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    sneaky = await bob.post(
        CHAT_PATH, json={"message": "show my tasks", "conversation_id": mine.conversation_id}
    )
    assert sneaky.status_code == 404
    unknown = await alice.get(f"/api/conversations/{uuid.uuid4()}/messages")
    assert unknown.status_code == 404
    page = (await alice.get(f"/api/conversations/{mine.conversation_id}/messages")).json()
    assert page["total"] == 4  # bob's attempts added nothing


async def test_bad_chat_requests(alice: User) -> None:
    assert (await alice.post(CHAT_PATH, json={"message": "   "})).status_code == 422
    assert (await alice.post(CHAT_PATH, json={})).status_code == 422
    too_long = await alice.post(CHAT_PATH, json={"message": "x" * 4001})
    assert too_long.status_code == 422
    assert "4000" in too_long.json()["detail"]
    bad_id = await alice.post(CHAT_PATH, json={"message": "hi", "conversation_id": "nope"})
    assert bad_id.status_code == 422
    anonymous = await alice.client.post(CHAT_PATH, json={"message": "hi"})
    assert anonymous.status_code == 401


async def _chat_events(container: Container) -> list[dict[str, Any]]:
    import json

    async with container.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(outbox_table.c.payload, outbox_table.c.topic).order_by(outbox_table.c.id)
            )
        ).all()
    found = [json.loads(row[0]) | {"topic": row[1]} for row in rows]
    return [event for event in found if event["type"].startswith("chat.")]


async def test_chat_events_go_through_the_outbox(
    alice: User, container: Container, assistant: Assistant
) -> None:
    reply = await say(alice, "buy milk")
    assert await outbox_types(container, assistant) == [
        "chat.message.received",
        "chat.tool.called",
        "chat.message.answered",
    ]
    received, called, answered = await _chat_events(container)
    assert {e["topic"] for e in (received, called, answered)} == {"chat-events"}
    assert {e["userid"] for e in (received, called, answered)} == {alice.id}
    assert received["subject"] == reply.conversation_id
    assert received["data"]["text"] == "buy milk"
    assert called["data"]["tool"] == "add_task"
    assert called["data"]["ok"] is True
    assert called["data"]["arguments"] == {"title": "Buy milk"}
    assert answered["data"]["message_id"] == reply.done["message_id"]
    assert answered["data"]["mode"] == "offline"
    assert answered["data"]["tool_calls"] == 1
    # The task's own event is in the outbox too, written by the tool's transaction.
    assert await outbox_types(container, assistant, "task.") == ["task.created"]


async def test_a_turn_waits_out_a_database_blip_before_saving(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database restarting while a turn ends delays the save; the turn is
    not lost and the reader gets `done`."""
    real = Assistant.write_ahead
    failures = iter([ConnectionRefusedError(111, "connection refused")] * 2)

    async def flaky(self: Assistant, *args: Any, **kwargs: Any) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        await real(self, *args, **kwargs)

    monkeypatch.setattr(Assistant, "write_ahead", flaky)
    reply = await say(alice, "buy bread")
    assert reply.names[-1] == "done", reply.events
    page = (await alice.get(f"/api/conversations/{reply.conversation_id}/messages")).json()
    assert page["items"][0]["content"] == "buy bread"


async def test_a_turn_that_cannot_be_saved_says_so(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Assistant, *args: Any, **kwargs: Any) -> None:
        raise ValueError("a bug, not an outage")

    monkeypatch.setattr(Assistant, "write_ahead", broken)
    reply = await say(alice, "buy bread")
    assert reply.names[-1] == "error"
    assert reply.of("error")[0]["detail"] == "the conversation could not be saved; try again"
    assert (await alice.get("/api/conversations")).json()["total"] == 0
