"""The whole system over the real Kafka broker and PostgreSQL."""

import os
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

from events.bus import Subscription
from events.kafka import ensure_topics
from services.bootstrap import Container, bootstrap
from tests.conftest import TABLES, _sql
from tests.integration.events.conftest import topic_partitions


@pytest.fixture(scope="session")
async def kafka() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS is not set: `make test` starts the Kafka broker")
    await ensure_topics(servers)
    return servers


async def start_groups_at_the_end(
    servers: str, prefix: str, subscriptions: Iterable[Subscription]
) -> None:
    """Commit the topics' current end offsets for the prefixed groups, so a
    test's consumers see the test's events, not the broker's history."""
    topics_by_group: dict[str, set[str]] = {}
    for subscription in subscriptions:
        topics_by_group.setdefault(subscription.group, set()).add(str(subscription.topic))
    for group, topics in topics_by_group.items():
        partitions = [p for t in sorted(topics) for p in await topic_partitions(servers, t)]
        consumer = AIOKafkaConsumer(
            bootstrap_servers=servers, group_id=prefix + group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.commit(await consumer.end_offsets(partitions))
        finally:
            await consumer.stop()


@pytest.fixture
async def fresh_postgres(postgres_migrated: str) -> str:
    await _sql(postgres_migrated, f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    return postgres_migrated


@pytest.fixture
async def kafka_container(
    fresh_postgres: str, kafka: str, key_file: Path, tmp_path: Path
) -> AsyncIterator[Container]:
    prefix = f"e2e-{uuid.uuid4().hex[:8]}-"
    container = bootstrap(
        database_url=fresh_postgres,
        event_bus="kafka",
        kafka_bootstrap_servers=kafka,
        kafka_group_prefix=prefix,
        jwt_private_key_file=key_file,
        data_dir=tmp_path,
        local_user=False,
        default_timezone="UTC",
        relay_poll_seconds=0.2,
    )
    await start_groups_at_the_end(kafka, prefix, container.process.subscriptions)
    yield container
    await container.aclose()
