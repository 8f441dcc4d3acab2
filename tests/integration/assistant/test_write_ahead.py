"""A turn is written ahead before `done` and folded into its conversation after it.

Most tests here hold the fold back (`chat_fold_delay_seconds`), so what they
read is the turn as `done` left it: one row of `chat_turns`, nothing in the
conversation's tables yet.
"""

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assistant.chat import Assistant
from assistant.config import AssistantSettings
from assistant.conversations import journal, store
from assistant.conversations.tables import chat_turns, conversation_messages, conversations
from assistant.messages import user as user_message
from events.outbox import outbox_table
from services.bootstrap import Container
from services.shared.auth import accounts
from tests.conftest import User, app_container, end_other_backends
from tests.integration.assistant.conftest import say, settings
from testsupport.openai_standin import OpenAIStandIn, call, text, tools

HELD = 3600.0


async def _chat_events(container: Container) -> list[str]:
    """The chat events in the outbox now (without waiting for any fold)."""
    async with container.engine.connect() as conn:
        query = sa.select(outbox_table.c.event_type).order_by(outbox_table.c.id)
        return [t for t in (await conn.execute(query)).scalars() if t.startswith("chat.")]


async def _count(container: Container, table: sa.Table) -> int:
    async with container.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar())


@pytest.fixture
def assistant_settings() -> AssistantSettings:
    return settings(chat_fold_delay_seconds=HELD)


async def test_done_goes_out_before_the_turn_is_folded(
    alice: User, container: Container, assistant: Assistant
) -> None:
    reply = await say(alice, "buy milk")
    assert reply.names[-1] == "done"
    # The turn is durable as one row; the conversation's tables wait for the fold.
    assert await _count(container, chat_turns) == 1
    assert await _count(container, conversation_messages) == 0
    assert await _chat_events(container) == []  # no fold has run

    await assistant.fold(uuid.UUID(reply.conversation_id))
    assert await _count(container, chat_turns) == 0
    assert await _count(container, conversation_messages) == 4
    assert await _chat_events(container) == [
        "chat.message.received",
        "chat.tool.called",
        "chat.message.answered",
    ]


async def test_the_next_turn_and_the_history_see_a_turn_not_folded_yet(
    alice: User, container: Container
) -> None:
    first = await say(alice, "buy milk")
    # The offline assistant only needs the conversation to exist: it is still
    # only written ahead, and is found.
    second = await say(alice, "show my tasks", first.conversation_id)
    assert second.names[-1] == "done", second.events
    assert second.conversation_id == first.conversation_id
    assert await _count(container, chat_turns) == 2

    # The history routes fold the caller's pending turns before they read.
    listed = (await alice.get("/api/conversations")).json()
    assert [c["id"] for c in listed["items"]] == [first.conversation_id]
    assert listed["items"][0]["message_count"] == 8
    page = (await alice.get(f"/api/conversations/{first.conversation_id}/messages")).json()
    contents = [m["content"] for m in page["items"] if m["role"] == "user"]
    assert contents == ["buy milk", "show my tasks"]  # in the order of the turns
    assert page["items"][-1]["id"] == second.done["message_id"]
    assert await _count(container, chat_turns) == 0


async def test_another_user_cannot_continue_a_turn_written_ahead(
    alice: User, make_user: Any, container: Container
) -> None:
    mine = await say(alice, "buy milk")
    bob = await make_user()
    sneaky = await bob.post(
        "/api/chat", json={"message": "show my tasks", "conversation_id": mine.conversation_id}
    )
    assert sneaky.status_code == 404
    assert (await bob.get("/api/conversations")).json()["total"] == 0
    assert await _count(container, chat_turns) == 1  # bob's look folded nothing of alice's


async def test_a_fold_runs_once_however_many_try(
    alice: User, container: Container, assistant: Assistant
) -> None:
    reply = await say(alice, "buy milk")
    conversation = uuid.UUID(reply.conversation_id)
    await asyncio.gather(*(assistant.fold(conversation) for _ in range(4)))
    assert await _count(container, conversation_messages) == 4
    assert await _chat_events(container) == [
        "chat.message.received",
        "chat.tool.called",
        "chat.message.answered",
    ]


async def test_a_starting_assistant_folds_what_a_stopped_one_left(
    alice: User, container: Container, assistant: Assistant
) -> None:
    left = await say(alice, "buy milk")
    successor = Assistant.for_container(container, settings())
    try:
        await successor.start()
        async with container.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(conversations.c.message_count).where(
                        conversations.c.id == uuid.UUID(left.conversation_id)
                    )
                )
            ).one()
        assert row.message_count == 4
        assert await _count(container, chat_turns) == 0
    finally:
        await successor.aclose()


async def test_closing_folds_at_once_what_waits(
    alice: User, container: Container, assistant: Assistant
) -> None:
    await say(alice, "buy milk")
    await asyncio.wait_for(assistant.aclose(), 30)  # not the hour the fold was held for
    assert await _count(container, chat_turns) == 0
    assert await _count(container, conversation_messages) == 4


async def test_a_turn_written_ahead_reads_back_as_it_was(alice: User) -> None:
    record = journal.TurnRecord(
        user_id=uuid.UUID(alice.id),
        conversation_id=uuid.uuid4(),
        messages=[],
        calls=[],
        answer_id=None,
        mode="offline",
        confirming=False,
    )
    assert journal.decode(record.user_id, record.conversation_id, journal.encode(record)) == record


class TestWithTheModel:
    @pytest.fixture
    def assistant_settings(self, openai_standin: OpenAIStandIn) -> AssistantSettings:
        return settings(
            openai_api_key="sk-standin",
            openai_base_url=openai_standin.base_url,
            chat_fold_delay_seconds=HELD,
        )

    async def test_the_model_is_sent_the_turn_not_folded_yet(
        self, alice: User, container: Container, openai_standin: OpenAIStandIn
    ) -> None:
        openai_standin.script(
            tools(call("add_task", {"title": "Buy milk"})), text("Added Buy milk."), text("Milk.")
        )
        first = await say(alice, "add buy milk")
        second = await say(alice, "what did I just add?", first.conversation_id)
        assert second.text == "Milk."
        assert await _count(container, conversation_messages) == 0  # nothing folded yet
        sent = openai_standin.requests[-1]["messages"]
        assert [(m["role"], m.get("content")) for m in sent[1:]] == [
            ("user", "add buy milk"),
            ("assistant", None),
            ("tool", sent[3]["content"]),
            ("assistant", "Added Buy milk."),
            ("user", "what did I just add?"),
        ]
        assert sent[2]["tool_calls"][0]["function"]["name"] == "add_task"


async def test_a_turn_written_ahead_that_cannot_be_read_breaks_no_read(
    alice: User, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    reply = await say(alice, "buy milk")
    async with container.engine.begin() as conn:
        await conn.execute(chat_turns.update().values(payload="{not json"))
        broken = (await conn.execute(sa.select(chat_turns))).one()
    follow_up = await say(alice, "show my tasks", reply.conversation_id)
    assert follow_up.names[-1] == "done", follow_up.events
    listed = await alice.get("/api/conversations")
    assert listed.status_code == 200, listed.text
    assert "cannot be read; it is kept" in caplog.text
    # The unreadable turn is kept as it was, id included; the readable one was folded.
    async with container.engine.connect() as conn:
        assert (await conn.execute(sa.select(chat_turns))).all() == [broken]
    assert listed.json()["total"] == 1


async def test_two_folds_of_a_new_conversation_at_once_both_land_in_order(
    alice: User, make_user: Any, container: Container
) -> None:
    """The first fold has created the conversation but not committed when the
    second arrives: the second waits for it, then adds its messages after
    (never a failed insert of the same conversation, never a shared position).
    Another user's fold into that id is refused and changes nothing."""
    conversation, owner, now = uuid.uuid4(), uuid.UUID(alice.id), datetime.now(UTC)

    async def fold(texts: list[str], user_id: uuid.UUID = owner) -> None:
        async with container.uow() as uow:
            messages = [user_message(t) for t in texts]
            await store.append(
                uow.connection,
                user_id=user_id,
                conversation_id=conversation,
                title=texts[0],
                messages=messages,
                now=now,
            )
            await uow.commit()

    async with container.uow() as first:
        await store.append(
            first.connection,
            user_id=owner,
            conversation_id=conversation,
            title="one",
            messages=[user_message("one"), user_message("two")],
            now=now,
        )
        second = asyncio.create_task(fold(["three", "four"]))
        if container.engine.dialect.name == "postgresql":
            await _until_a_statement_waits_on_a_lock(container)
        await first.commit()
    await asyncio.wait_for(second, 30)
    with pytest.raises(store.ConversationOfAnotherUser):
        await fold(["not mine"], uuid.UUID((await make_user()).id))
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(conversation_messages.c.position, conversation_messages.c.content)
            .where(conversation_messages.c.conversation_id == conversation)
            .order_by(conversation_messages.c.position)
        )
        assert [tuple(r) for r in rows] == [(1, "one"), (2, "two"), (3, "three"), (4, "four")]
        saved = (
            await conn.execute(sa.select(conversations).where(conversations.c.id == conversation))
        ).one()
    assert (saved.user_id, saved.title, saved.message_count) == (owner, "one", 4)


async def _until_a_statement_waits_on_a_lock(container: Container) -> None:
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    # Each look in a transaction of its own: within one, PostgreSQL answers
    # pg_stat_activity from the snapshot it took at the first look.
    async with asyncio.timeout(30):
        while True:
            async with container.reading() as uow:
                if (await uow.connection.execute(waiting)).scalar():
                    return
            await asyncio.sleep(0.02)


async def test_a_turn_lands_when_the_server_drops_its_connections_before_the_write(
    postgres_migrated: str, key_file: Path, tmp_path: Path
) -> None:
    # The write-ahead runs on the driver, past SQLAlchemy: a connection the server
    # dropped must still read as an outage (the turn waits and writes on a fresh
    # connection), not fail the turn.
    container = app_container(postgres_migrated, key_file, tmp_path)
    assistant = Assistant.for_container(container, settings(chat_fold_delay_seconds=HELD))
    events: list[str] = []
    ended: list[int] = []

    async def emit(event: Any) -> None:
        events.append(event.event)
        if event.event == "tool_result":  # the tool ran; only the write-ahead is left
            ended.append(await end_other_backends(postgres_migrated))

    try:
        async with container.uow() as uow:
            someone = await accounts.ensure_local_user(
                uow, email=f"{uuid.uuid4().hex}@example.com", timezone="UTC"
            )
            await uow.commit()
        turn = await assistant.open_turn(someone, "buy bread")
        await turn.run(emit)
        assert len(ended) == 1, events
        assert ended[0] >= 1
        assert events[-1] == "done", events
        async with container.reading() as uow:
            written = await uow.connection.execute(
                sa.select(sa.func.count())
                .select_from(chat_turns)
                .where(chat_turns.c.conversation_id == turn.conversation_id)
            )
            assert written.scalar_one() == 1
    finally:
        await assistant.aclose()
        await container.aclose()
