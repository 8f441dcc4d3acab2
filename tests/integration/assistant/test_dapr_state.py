"""Conversation state in Dapr's state store, through real daprd sidecars and the real Redis.

Two sidecars of the app `task-api` (two replicas), each with the local stack's
`statestore-redis` component on the test run's Redis. The store is reached through the Dapr
SDK over gRPC (DAPR_GRPC_PORT set) or the sidecar's HTTP state API (without it); both keep
the same value in Redis, under the hash `task-api||<key>`.
"""

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from assistant.chat import Assistant
from assistant.config import AssistantSettings
from assistant.dapr_state import DaprStateStore
from assistant.errors import AssistantError
from assistant.redis_state import RedisStateStore
from assistant.state import ConversationState, MemoryStateStore, state_key
from services.bootstrap import Container, bootstrap
from tests.conftest import User
from tests.e2e.dapr.conftest import Sidecars, daprd_binary, redis_state_store_component
from tests.integration.assistant.conftest import a_state, eventually_none, say, settings, titles
from testsupport.ports import free_port

APP_ID = "task-api"
REPLICAS = ("task-api", "task-api-2")


@pytest.fixture(scope="module")
async def sidecars(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sidecars]:
    """Two daprd of the app `task-api` with the Redis state store, no app behind them."""
    work = tmp_path_factory.mktemp("dapr-state")
    resources = work / "components"
    resources.mkdir()
    (resources / "statestore-redis.yaml").write_text(redis_state_store_component())
    logs = work / "logs"
    logs.mkdir()
    running = Sidecars(
        logs,
        daprd=daprd_binary(),
        resources=resources,
        apps={r: free_port() for r in REPLICAS},
        app_ids=dict.fromkeys(REPLICAS, APP_ID),
    )
    try:
        for replica in REPLICAS:
            running.start(replica)
        for replica in REPLICAS:
            # Ready for calls before any app listens on the app port.
            url = f"{running.url(replica)}/v1.0/healthz/outbound"
            await running.wait_http(f"{replica}.daprd", url, 204)
        yield running
    finally:
        running.stop_all()


def store_of(
    sidecars: Sidecars, replica: str = REPLICAS[0], *, grpc: bool = True, **options: object
) -> DaprStateStore:
    return DaprStateStore(
        port=sidecars.http[replica],
        grpc_port=sidecars.grpc[replica] if grpc else None,
        ttl_seconds=int(options.pop("ttl_seconds", 60)),  # type: ignore[call-overload]
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def redis_client() -> AsyncIterator["redis.Redis[bytes]"]:
    client: redis.Redis[bytes] = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    yield client
    await client.aclose()


@pytest.mark.parametrize("grpc", [True, False], ids=["grpc", "http"])
async def test_save_load_delete_and_expiry(
    sidecars: Sidecars, redis_client: "redis.Redis[bytes]", grpc: bool
) -> None:
    store = store_of(sidecars, grpc=grpc, ttl_seconds=30)
    key = state_key(uuid.uuid4())
    state = a_state()
    try:
        assert store.dapr.over_grpc is grpc
        assert await store.load(key) is None
        await store.save(key, state)
        assert await store.load(key) == state
        # It is Redis that holds it, for the time to live the store was given.
        held = await redis_client.hget(f"{APP_ID}||{key}", "data")
        assert held is not None
        assert ConversationState.model_validate_json(held) == state
        assert 0 < await redis_client.ttl(f"{APP_ID}||{key}") <= 30
        await store.delete(key)
        assert await store.load(key) is None
        assert not await redis_client.exists(f"{APP_ID}||{key}")
        await store.delete(key)  # deleting what is not there is not an error
    finally:
        await store.aclose()
    short = store_of(sidecars, grpc=grpc, ttl_seconds=1)
    try:
        await short.save(key, state)
        await eventually_none(short, key)
    finally:
        await short.aclose()


async def test_both_replicas_and_both_transports_see_one_value(sidecars: Sidecars) -> None:
    stores = [store_of(sidecars, r, grpc=g) for r in REPLICAS for g in (True, False)]
    key = state_key(uuid.uuid4())
    try:
        for writer in stores:
            state = a_state()
            await writer.save(key, state)
            for reader in stores:
                assert await reader.load(key) == state
        await stores[0].delete(key)
        for reader in stores:
            assert await reader.load(key) is None
    finally:
        for store in stores:
            await store.aclose()


@pytest.mark.parametrize("grpc", [True, False], ids=["grpc", "http"])
async def test_an_unknown_store_is_an_assistant_error(sidecars: Sidecars, grpc: bool) -> None:
    store = store_of(sidecars, grpc=grpc, store="nope")
    try:
        with pytest.raises(AssistantError, match=r"refused.*state store nope is not found"):
            await store.load("k")
        with pytest.raises(AssistantError, match=r"refused.*'nope'"):
            await store.save("k", a_state())
    finally:
        await store.aclose()


@pytest.mark.parametrize("grpc", [True, False], ids=["grpc", "http"])
async def test_no_sidecar_is_an_assistant_error(grpc: bool) -> None:
    store = DaprStateStore(
        port=free_port(), grpc_port=free_port() if grpc else None, ttl_seconds=60, timeout=2
    )
    try:
        with pytest.raises(AssistantError, match="unavailable"):
            await store.load("k")
    finally:
        await store.aclose()


@pytest.fixture
async def assistant(
    container: Container, assistant_settings: AssistantSettings, sidecars: Sidecars
) -> AsyncIterator[Assistant]:
    built = Assistant.for_container(container, assistant_settings)
    await built.state.aclose()
    built.state = store_of(sidecars, REPLICAS[0])
    yield built
    await built.state.aclose()
    await built.aclose()


async def test_a_pending_delete_is_answered_on_the_other_replica(
    alice: User, assistant: Assistant, sidecars: Sidecars
) -> None:
    await alice.add(title="Old report")
    asked = await say(alice, "delete the old report")
    assert asked.names[-2:] == ["confirm", "done"]
    # The answer reaches the other replica: nothing of the question is left in this process.
    await assistant.state.aclose()  # type: ignore[attr-defined]
    assistant.state = store_of(sidecars, REPLICAS[1])
    deleted = await say(alice, "yes", asked.conversation_id)
    assert deleted.text == "Deleted “Old report”."
    assert await titles(alice) == []


async def test_a_pending_delete_expires_with_the_store(
    alice: User, assistant: Assistant, sidecars: Sidecars
) -> None:
    await assistant.state.aclose()  # type: ignore[attr-defined]
    assistant.state = store_of(sidecars, REPLICAS[0], ttl_seconds=1)
    await alice.add(title="Old report")
    asked = await say(alice, "delete the old report")
    assert asked.names[-2:] == ["confirm", "done"]
    key = state_key(uuid.UUID(asked.conversation_id))
    await eventually_none(assistant.state, key)  # type: ignore[arg-type]
    late = await say(alice, "yes", asked.conversation_id)
    assert "delete_task" not in [c["name"] for c in late.of("tool_call")]
    assert await titles(alice) == ["Old report"]


async def test_the_store_follows_the_event_bus(tmp_path: Path, key_file: Path) -> None:
    containers: list[Container] = []

    def built(bus: str, **more: object) -> Assistant:
        container = bootstrap(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
            jwt_private_key_file=key_file,
            data_dir=tmp_path,
            event_bus=bus,
            **more,
        )
        containers.append(container)
        return Assistant.for_container(container, settings())

    try:
        over_grpc = built("dapr", dapr_grpc_port=free_port()).state
        assert isinstance(over_grpc, DaprStateStore)
        assert over_grpc.dapr.over_grpc
        over_http = built("dapr").state
        assert isinstance(over_http, DaprStateStore)
        assert not over_http.dapr.over_grpc
        assert isinstance(built("memory").state, MemoryStateStore)
        redis_url = f"redis://127.0.0.1:{free_port()}/0"  # never reached: nothing is said
        assert isinstance(built("kafka", redis_url=redis_url).state, RedisStateStore)
        assert isinstance(built("memory", redis_url=redis_url).state, RedisStateStore)
        assert isinstance(built("dapr", redis_url=redis_url).state, DaprStateStore)
    finally:
        for container in containers:
            await container.aclose()
