"""Subscriptions that every process takes (`Subscription.every_process`): only Kafka
takes them; the memory bus and Dapr refuse them with a message that says what to do.
The live feed uses them on Kafka, so each task-api process reads its topics itself
and needs no shared fanout; elsewhere it stays one group with the Redis fanout."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from events.bus import Subscription
from events.cloudevents import CloudEvent
from events.dapr import DaprBus
from events.memory import MemoryBus
from services.bootstrap import Container, bootstrap
from services.composition import compose
from services.shared.settings import Settings, get_settings
from services.tasks.realtime import LocalFanout, RedisFanout


async def ignore(event: CloudEvent) -> None:
    return None


EVERY_PROCESS = Subscription("task-events", "task-api-realtime", ignore, every_process=True)


@pytest.mark.parametrize(
    ("bus", "named"),
    [(MemoryBus(), "the memory bus"), (DaprBus(http_port=1, pubsub_name="pubsub"), "Dapr")],
)
async def test_a_bus_that_cannot_reach_every_process_refuses_the_subscription(
    bus: MemoryBus | DaprBus, named: str
) -> None:
    assert not bus.every_process_subscriptions
    with pytest.raises(ValueError, match="subscribe in the group instead") as refused:
        await bus.start([EVERY_PROCESS])
    assert str(refused.value).startswith(f"{named} cannot give every process every event")
    assert "'task-events'" in str(refused.value)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("EVENT_BUS", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def live_feed(container: Container) -> list[Subscription]:
    process = compose("task-api", container)
    return [s for s in process.subscriptions if s.group == "task-api-realtime"]


@pytest.mark.usefixtures("clean_env")
async def test_on_kafka_each_process_reads_the_live_feed_itself() -> None:
    container = bootstrap(
        Settings(),
        event_bus="kafka",
        kafka_bootstrap_servers="127.0.0.1:9",  # nothing connects before start
        redis_url="redis://127.0.0.1:9/0",
    )
    try:
        assert isinstance(container.realtime.fanout, LocalFanout)
        subscriptions = live_feed(container)
        assert {str(s.topic) for s in subscriptions} == {"task-events", "notification-events"}
        assert all(s.every_process for s in subscriptions)
    finally:
        await container.aclose()


@pytest.mark.usefixtures("clean_env")
async def test_on_the_memory_bus_the_live_feed_is_one_group_shared_through_redis() -> None:
    container = bootstrap(Settings(), redis_url="redis://127.0.0.1:9/0")
    try:
        assert isinstance(container.realtime.fanout, RedisFanout)
        subscriptions = live_feed(container)
        assert len(subscriptions) == 2
        assert not any(s.every_process for s in subscriptions)
    finally:
        await container.aclose()
