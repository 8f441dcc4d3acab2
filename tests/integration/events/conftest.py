"""Fixtures for the tests against the real Kafka broker (scripts/kafka.sh).

The broker is found through KAFKA_BOOTSTRAP_SERVERS, which
`scripts/test-services.sh env` exports when it is up; `make test` starts it.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

from events.kafka import KafkaBus, ensure_topics
from testsupport.kafka import start_group_at_the_end, topic_partitions

MakeBus = Callable[..., KafkaBus]
NewGroup = Callable[[str], Awaitable[str]]


@pytest.fixture(scope="session")
async def kafka_servers() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS is not set: `make test` starts the Kafka broker")
    await ensure_topics(servers)  # idempotent: scripts/kafka.sh made them already
    return servers


@pytest.fixture
async def make_kafka_bus(kafka_servers: str) -> AsyncIterator[MakeBus]:
    buses: list[KafkaBus] = []

    def make(**options: Any) -> KafkaBus:
        bus = KafkaBus(kafka_servers, client_id=f"test-{uuid.uuid4().hex[:8]}", **options)
        buses.append(bus)
        return bus

    yield make
    await asyncio.gather(*(bus.stop() for bus in buses))


@pytest.fixture
def new_group(kafka_servers: str) -> NewGroup:
    """A consumer group of its own whose committed offsets are the topic's
    current end: the bus under test (auto_offset_reset=earliest) then sees only
    what the test publishes, not the topic's history."""

    async def make(topic: str) -> str:
        group = f"test-{uuid.uuid4().hex}"
        await start_group_at_the_end(kafka_servers, group, [topic])
        return group

    return make


class TopicTail:
    """Reads a topic from the end offsets it had when opened (no group)."""

    def __init__(self, consumer: Any, start: dict[Any, int]) -> None:
        self._consumer = consumer
        self._start = start

    @classmethod
    async def open(cls, servers: str, topic: str) -> "TopicTail":
        partitions = await topic_partitions(servers, topic)
        consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(partitions)
            start = await consumer.end_offsets(partitions)
        except BaseException:
            await consumer.stop()
            raise
        return cls(consumer, start)

    async def read(self, done: Callable[[list[Any]], bool], timeout: float = 20.0) -> list[Any]:
        """Records since opening, in partition order, until `done(records)`."""
        for tp, offset in self._start.items():
            self._consumer.seek(tp, offset)
        records: list[Any] = []
        async with asyncio.timeout(timeout):
            while not done(records):
                batch = await self._consumer.getmany(timeout_ms=500)
                for tp_records in batch.values():
                    records.extend(tp_records)
        return records

    async def close(self) -> None:
        await self._consumer.stop()


@pytest.fixture
async def open_tail(kafka_servers: str) -> AsyncIterator[Callable[[str], Awaitable[TopicTail]]]:
    tails: list[TopicTail] = []

    async def open_(topic: str) -> TopicTail:
        tail = await TopicTail.open(kafka_servers, topic)
        tails.append(tail)
        return tail

    yield open_
    for tail in tails:
        await tail.close()


async def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)
