"""Conversation state in Dapr's state store, against a stand-in for its state API."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from assistant.chat import Assistant
from assistant.config import AssistantSettings
from assistant.dapr_state import STORE_NAME, DaprStateStore
from assistant.errors import AssistantError
from assistant.state import ConversationState, ListedTask, MemoryStateStore, Pending, state_key
from services.bootstrap import Container, bootstrap
from tests.conftest import User
from tests.integration.assistant.conftest import say, settings, titles
from tests.integration.assistant.dapr_state_standin import DaprStateStandIn


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sidecar() -> AsyncIterator[DaprStateStandIn]:
    standin = DaprStateStandIn(clock=Clock())
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def assistant(
    container: Container, assistant_settings: AssistantSettings, sidecar: DaprStateStandIn
) -> AsyncIterator[Assistant]:
    built = Assistant.for_container(container, assistant_settings)
    await built.state.aclose()
    built.state = DaprStateStore(port=sidecar.port, ttl_seconds=60)
    yield built
    await built.aclose()


async def test_save_load_delete_and_expiry(sidecar: DaprStateStandIn) -> None:
    store = DaprStateStore(port=sidecar.port, ttl_seconds=30)
    key = state_key(uuid.uuid4())
    state = ConversationState(
        user_id="u1",
        pending=Pending(summary="Delete?", calls=[]),
        listing=[ListedTask(id="t1", title="Milk")],
    )
    try:
        assert await store.load(key) is None
        await store.save(key, state)
        assert sidecar.saves[-1]["metadata"] == {"ttlInSeconds": "30"}
        assert await store.load(key) == state
        await store.delete(key)
        assert await store.load(key) is None
        await store.save(key, state)
        sidecar.clock.now += 31  # type: ignore[attr-defined]
        assert await store.load(key) is None
    finally:
        await store.aclose()


async def test_an_unknown_store_is_an_assistant_error(sidecar: DaprStateStandIn) -> None:
    store = DaprStateStore(port=sidecar.port, ttl_seconds=30, store="nope")
    try:
        with pytest.raises(AssistantError, match="400"):
            await store.load("k")
    finally:
        await store.aclose()


async def test_a_pending_delete_lives_in_the_dapr_store(
    alice: User, sidecar: DaprStateStandIn
) -> None:
    await alice.add(title="Old report")
    asked = await say(alice, "delete the old report")
    assert asked.names[-2:] == ["confirm", "done"]
    key = state_key(uuid.UUID(asked.conversation_id))
    assert (STORE_NAME, key) in sidecar.items
    assert sidecar.items[(STORE_NAME, key)].value["pending"]["calls"][0]["name"] == "delete_task"

    sidecar.clock.now += 61  # type: ignore[attr-defined]
    late = await say(alice, "yes", asked.conversation_id)
    assert "delete_task" not in [c["name"] for c in late.of("tool_call")]
    assert await titles(alice) == ["Old report"]

    asked = await say(alice, "delete the old report", asked.conversation_id)
    deleted = await say(alice, "yes", asked.conversation_id)
    assert deleted.text == "Deleted “Old report”."
    assert await titles(alice) == []


async def test_the_store_follows_the_event_bus(tmp_path: Path, key_file: Path) -> None:
    containers: list[Container] = []

    def built(bus: str) -> Assistant:
        container = bootstrap(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
            jwt_private_key_file=key_file,
            data_dir=tmp_path,
            event_bus=bus,
        )
        containers.append(container)
        return Assistant.for_container(container, settings())

    try:
        assert isinstance(built("dapr").state, DaprStateStore)
        assert isinstance(built("memory").state, MemoryStateStore)
    finally:
        for container in containers:
            await container.aclose()
