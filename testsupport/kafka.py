"""Kafka helpers for tests and benchmarks: read a topic's partitions, and
start consumer groups at the topics' current end so they skip a shared
broker's history. The product itself never needs them."""

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from events.bus import Subscription


async def topic_partitions(bootstrap_servers: str, topic: str) -> list[Any]:
    """The partitions (`TopicPartition`) of an existing topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="todo-admin")
    await admin.start()
    try:
        (described,) = await admin.describe_topics([str(topic)])
    finally:
        await admin.close()
    return [TopicPartition(str(topic), p["partition"]) for p in described["partitions"]]


async def start_group_at_the_end(
    bootstrap_servers: str,
    group: str,
    topics: Iterable[str],
    *,
    attempts: int = 3,
    timeout: float = 15.0,
) -> None:
    """Commit the topics' current end offsets for `group` before any of its
    consumers joins: the group then reads only what is published from now on,
    not a shared broker's history (a new environment, a test, a benchmark).

    A broker still electing the group's coordinator (a topic just created, a
    broker just restarted) can leave the commit waiting without end: each
    attempt has `timeout` seconds, and the last one's failure is raised."""
    partitions = [
        p for t in sorted(set(topics)) for p in await topic_partitions(bootstrap_servers, t)
    ]
    for attempt in range(1, attempts + 1):
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
        )
        try:
            async with asyncio.timeout(timeout):
                await consumer.start()
                consumer.assign(partitions)
                await consumer.commit(await consumer.end_offsets(partitions))
            return
        except TimeoutError:
            if attempt == attempts:
                raise TimeoutError(
                    f"Kafka at {bootstrap_servers} did not take the offsets of group {group} "
                    f"within {timeout} s, {attempts} times"
                ) from None
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout):
                    await consumer.stop()


async def start_groups_at_the_end(
    bootstrap_servers: str, subscriptions: Iterable[Subscription], *, prefix: str = ""
) -> None:
    """`start_group_at_the_end` for the (prefixed) group of every subscription; those
    every process takes are in no group on Kafka."""
    topics_by_group: dict[str, set[str]] = defaultdict(set)
    for subscription in subscriptions:
        if subscription.every_process:
            continue
        topics_by_group[prefix + subscription.group].add(str(subscription.topic))
    for group, topics in topics_by_group.items():
        await start_group_at_the_end(bootstrap_servers, group, topics)
