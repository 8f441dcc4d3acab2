"""Conversation state in Redis (REDIS_URL without Dapr), on the test run's Redis: what
several task-api processes (`todo serve --workers N`) share, so a question asked in
one process is answered in another."""

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from assistant.chat import Assistant
from assistant.config import AssistantSettings
from assistant.errors import AssistantError
from assistant.redis_state import PREFIX, RedisStateStore
from assistant.state import ConversationState, state_key
from services.bootstrap import Container
from tests.conftest import User
from tests.integration.assistant.conftest import a_state, eventually_none, say, titles
from testsupport.ports import free_port

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_REDIS_URL"), reason="needs the test Redis (TEST_REDIS_URL)"
)


def store_of(ttl_seconds: int = 60) -> RedisStateStore:
    return RedisStateStore(os.environ["TEST_REDIS_URL"], ttl_seconds=ttl_seconds)


async def test_save_load_delete_and_expiry() -> None:
    raw: redis.Redis = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    first, second = store_of(30), store_of(30)
    key = state_key(uuid.uuid4())
    state = a_state()
    try:
        assert await first.load(key) is None
        await first.save(key, state)
        assert await second.load(key) == state  # another process's store sees it
        held = await raw.get(PREFIX + key)
        assert held is not None
        assert ConversationState.model_validate_json(held) == state
        assert 0 < await raw.ttl(PREFIX + key) <= 30
        await second.delete(key)
        assert await first.load(key) is None
        await first.delete(key)  # deleting what is not there is not an error
    finally:
        for store in (first, second):
            await store.aclose()
        await raw.aclose()
    short = store_of(ttl_seconds=1)
    try:
        await short.save(key, state)
        await eventually_none(short, key)
    finally:
        await short.aclose()


async def test_an_unreachable_redis_is_an_assistant_error() -> None:
    store = RedisStateStore(f"redis://127.0.0.1:{free_port()}/0", ttl_seconds=60, timeout=2)
    try:
        with pytest.raises(AssistantError, match=r"state store \(Redis\) could not read"):
            await store.load("k")
        with pytest.raises(AssistantError, match=r"could not write"):
            await store.save("k", a_state())
    finally:
        await store.aclose()


@pytest.fixture
async def assistant(
    container: Container, assistant_settings: AssistantSettings
) -> AsyncIterator[Assistant]:
    built = Assistant.for_container(container, assistant_settings)
    await built.state.aclose()
    built.state = store_of()
    yield built
    await built.state.aclose()
    await built.aclose()


async def test_a_pending_question_is_answered_through_another_process(
    alice: User, assistant: Assistant
) -> None:
    await alice.add(title="Old report")
    asked = await say(alice, "delete the old report")
    assert asked.names[-2:] == ["confirm", "done"]
    # The answer reaches another process: nothing of the question is left in this one.
    await assistant.state.aclose()
    assistant.state = store_of()
    deleted = await say(alice, "yes", asked.conversation_id)
    assert deleted.text == "Deleted “Old report”."
    assert await titles(alice) == []
