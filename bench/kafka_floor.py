"""The Kafka floor: raw aiokafka on the same broker, and what the event
benchmarks need to share that broker politely.

The broker on KAFKA_BOOTSTRAP_SERVERS is the test suite's, shared with other
runs: the floors and the relay's throughput use a topic of their own (created
for the run with task-events' partition count, deleted afterwards), and the
application's consumer groups get a unique prefix and start at the topics'
end, so they neither read the broker's history nor move anyone's offsets.
"""

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]

from events.kafka import PRODUCER_OPTIONS as BUS_PRODUCER_OPTIONS
from events.kafka import TOPIC_PARTITIONS, cached_partitioner, ensure_topics
from events.topics import Topic
from testsupport.kafka import topic_partitions

PARTITIONS = TOPIC_PARTITIONS[Topic.TASK_EVENTS]
# What KafkaBus's producer uses, so the floor pays for the same guarantees and
# batches as the product does. The floors that send also partition as it does
# (`cached_partitioner`): aiokafka's own murmur2 is pure Python, about 5 µs a record.
PRODUCER_OPTIONS: dict[str, Any] = {**BUS_PRODUCER_OPTIONS, "request_timeout_ms": 5000}


async def kafka_servers() -> tuple[str | None, str | None]:
    """The broker's address and None, or None and why the Kafka sides are skipped."""
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        return None, "KAFKA_BOOTSTRAP_SERVERS is not set (scripts/kafka.sh start)"
    try:
        async with asyncio.timeout(20):
            await ensure_topics(servers)
    except Exception as exc:  # an unreachable broker skips the Kafka sides only
        return None, f"broker at {servers} unreachable: {type(exc).__name__}: {exc}"
    return servers, None


class BenchTopic:
    """`async with BenchTopic(servers, "relay") as name:` a fresh topic, deleted at exit."""

    def __init__(self, servers: str, purpose: str, partitions: int = PARTITIONS) -> None:
        self.servers = servers
        self.name = f"todo-bench-{purpose}-{uuid.uuid4().hex[:8]}"
        self._partitions = partitions

    async def __aenter__(self) -> str:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.servers, client_id="todo-bench-admin")
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.name, self._partitions, 1)])
        finally:
            await admin.close()
        for _ in range(200):  # every partition needs a leader before it is used
            with contextlib.suppress(Exception):
                if await self._led():
                    break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # the new leaders answer offset requests a moment later
        return self.name

    async def _led(self) -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.servers, client_id="todo-bench-admin")
        await admin.start()
        try:
            (described,) = await admin.describe_topics([self.name])
        finally:
            await admin.close()
        partitions = described.get("partitions") or []
        return len(partitions) == self._partitions and all(
            p.get("leader", -1) >= 0 for p in partitions
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.servers, client_id="todo-bench-admin")
        with contextlib.suppress(Exception):
            await admin.start()
            await admin.delete_topics([self.name])
        with contextlib.suppress(Exception):
            await admin.close()


class RoundTrip:
    """Produce one record, await the ack, and time until a consumer fetches it.

    The producer is configured as KafkaBus's; the consumer fetches as its
    consumers do (aiokafka's defaults, `getmany`), but reads the partitions by
    assignment, without a group. One record is in flight at a time.
    """

    def __init__(self, servers: str, topic: str) -> None:
        self._servers = servers
        self._topic = topic
        self._producer: Any = None
        self._consumer: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._arrived: asyncio.Future[float] | None = None

    async def __aenter__(self) -> Self:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._servers, client_id="todo-bench-floor", **PRODUCER_OPTIONS
        )
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._servers,
            client_id="todo-bench-floor",
            enable_auto_commit=False,
        )
        await self._consumer.start()
        partitions = await topic_partitions(self._servers, self._topic)
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        self._reader = asyncio.create_task(self._read(), name="bench-floor-reader")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def _read(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=1000)
            if any(batch.values()):
                now = time.perf_counter()
                if self._arrived is not None and not self._arrived.done():
                    self._arrived.set_result(now)

    async def once(self, key: bytes, value: bytes, limit: float = 10.0) -> float:
        """Seconds from the send to the consumer's fetch of that record."""
        self._arrived = asyncio.get_running_loop().create_future()
        start = time.perf_counter()
        await (await self._producer.send(self._topic, value, key=key))
        async with asyncio.timeout(limit):
            arrived = await self._arrived
        return arrived - start


async def producer_seconds(
    servers: str,
    topic: str,
    items: Sequence[tuple[bytes, bytes]],
    batch: int,
    *,
    record_batches: bool = False,
) -> float:
    """Seconds for a fresh idempotent producer to deliver `items` in batches
    as the relay does: queue a batch in order, await every ack, next batch.

    Record by record (`send`), or with `record_batches` each batch packed by hand
    into one record batch per partition (`create_batch`, `send_batch`): the
    cheapest way aiokafka offers to hand the broker the same records, with no
    future per record."""
    producer = AIOKafkaProducer(
        bootstrap_servers=servers,
        client_id="todo-bench-floor",
        partitioner=cached_partitioner,
        **PRODUCER_OPTIONS,
    )
    await producer.start()
    try:
        await (await producer.send(topic, items[0][1], key=items[0][0]))  # connect, warm
        listed = list(await producer.partitions_for(topic))
        start = time.perf_counter()
        for offset in range(0, len(items), batch):
            chunk = items[offset : offset + batch]
            if record_batches:
                futures = await _send_packed(producer, topic, listed, chunk)
            else:
                futures = [await producer.send(topic, value, key=key) for key, value in chunk]
            await asyncio.gather(*futures)
        return time.perf_counter() - start
    finally:
        await producer.stop()


async def _send_packed(
    producer: Any, topic: str, listed: list[int], chunk: Sequence[tuple[bytes, bytes]]
) -> list[Any]:
    """Hand `chunk` to the producer as one record batch per partition; the futures."""
    builders: dict[int, Any] = {}
    futures = []
    for key, value in chunk:
        partition = cached_partitioner(key, listed, listed)
        builder = builders.get(partition)
        if builder is None:
            builder = builders[partition] = producer.create_batch()
        if builder.append(timestamp=None, key=key, value=value, headers=[]) is None:
            futures.append(await producer.send_batch(builder, topic, partition=partition))
            builder = builders[partition] = producer.create_batch()
            builder.append(timestamp=None, key=key, value=value, headers=[])
    for partition, builder in builders.items():
        futures.append(await producer.send_batch(builder, topic, partition=partition))
    return futures
