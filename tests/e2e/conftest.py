"""The whole system over the real Kafka broker and PostgreSQL."""

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from events.kafka import ensure_topics
from services.bootstrap import Container, bootstrap
from services.composition import process_of
from tests.conftest import TABLES, _sql
from tests.integration.test_acceptance import smtp  # noqa: F401 - a fixture here too
from testsupport.kafka import start_groups_at_the_end


@pytest.fixture(scope="session")
async def kafka() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS is not set: `make test` starts the Kafka broker")
    await ensure_topics(servers)
    return servers


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
    await start_groups_at_the_end(kafka, process_of(container).subscriptions, prefix=prefix)
    yield container
    await container.aclose()
