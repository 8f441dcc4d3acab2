"""KafkaBus against the real broker: keys and per-user order, manual commits,
the DLQ, and a broker crash in the middle of publishing.

The tests use `audit-events`: no service publishes or consumes it (docs/reference.md,
Events), so what they publish disturbs no other consumer. Each test has its own
consumer group (see `new_group`) and its own event source to filter on.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.client import AIOKafkaClient  # type: ignore[import-untyped]
from aiokafka.errors import KafkaConnectionError, KafkaError  # type: ignore[import-untyped]
from aiokafka.partitioner import murmur2  # type: ignore[import-untyped]
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine

from events import kafka, tracing
from events.bus import PermanentFailure, Subscription
from events.cloudevents import CloudEvent, new_event
from events.kafka import (
    CONTENT_TYPE,
    PRODUCER_OPTIONS,
    TOPIC_PARTITIONS,
    KafkaBus,
    cached_partitioner,
    ensure_topics,
)
from events.outbox import outbox_rows, outbox_table
from events.processed import claim_event, processed_events
from events.relay import OutboxRelay
from events.runtime import dead_letter_event
from events.topics import EventType, Topic
from services.bootstrap import Container
from services.shared.db import create_engine
from tests.integration.events.conftest import (
    MakeBus,
    NewGroup,
    TopicTail,
    eventually,
    topic_partitions,
)
from testsupport.event_data import task_updated

TOPIC = Topic.AUDIT_EVENTS
SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"

OpenTail = Callable[[str], Awaitable[TopicTail]]


def make_event(source: str, user: str, seq: int, **data: Any) -> CloudEvent:
    return new_event(
        EventType.TASK_UPDATED,
        source=source,
        user_id=user,
        subject=None,
        data=task_updated(seq=seq, **data),
    )


def a_source() -> str:
    return f"/tests/kafka-bus/{uuid.uuid4().hex[:12]}"


class Received:
    """A handler that keeps the events of one test's source, in arrival order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.events: list[CloudEvent] = []

    async def __call__(self, event: CloudEvent) -> None:
        if event.source == self.source:
            self.events.append(event)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.events]


async def test_an_event_reaches_its_subscriber_keyed_and_in_order_per_user(
    make_kafka_bus: MakeBus, new_group: NewGroup, open_tail: OpenTail
) -> None:
    source = a_source()
    tail = await open_tail(TOPIC)
    received = Received(source)
    bus = make_kafka_bus()
    await bus.start([Subscription(TOPIC, await new_group(TOPIC), received)])

    first = make_event(source, str(uuid.uuid4()), 0, title="Renew the passport")
    await bus.publish(TOPIC, first)
    await eventually(lambda: len(received.events) == 1)
    assert received.events[0].to_json_dict() == first.to_json_dict()

    users = [str(uuid.uuid4()) for _ in range(5)]
    batch = [(str(TOPIC), make_event(source, users[i % 5], i // 5)) for i in range(200)]
    assert await bus.publish_many(batch) == (200, None)
    await eventually(lambda: len(received.events) == 201)
    for user in users:
        assert [e.data["seq"] for e in received.events if e.userid == user] == list(range(40))

    # On the wire: key = user id, structured-mode CloudEvent JSON, one partition per user.
    records = await tail.read(lambda rs: len(ours(rs, source)) == 201)
    partitions: dict[str, set[int]] = defaultdict(set)
    for record in ours(records, source):
        value = json.loads(record.value)
        assert record.key == value["userid"].encode()
        assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
        assert value["specversion"] == "1.0"
        partitions[value["userid"]].add(record.partition)
    assert set(partitions) == set(users) | {first.userid}
    assert all(len(p) == 1 for p in partitions.values())


async def test_ensure_topics_is_idempotent_and_matches_the_contract(kafka_servers: str) -> None:
    assert await ensure_topics(kafka_servers) == []  # all there already: nothing created
    for topic, partitions in TOPIC_PARTITIONS.items():
        assert len(await topic_partitions(kafka_servers, topic)) == partitions


def ours(records: list[Any], source: str) -> list[Any]:
    return [r for r in records if r.value and source.encode() in r.value]


@pytest.fixture
async def effects_db(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'effects.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: processed_events.create(c))
        await conn.run_sync(lambda c: EFFECTS.create(c))
    yield engine
    await engine.dispose()


EFFECTS = sa.Table("effects", sa.MetaData(), sa.Column("event_id", sa.String(64), nullable=False))


async def apply_once(engine: AsyncEngine, event: CloudEvent) -> bool:
    """The effect and the claim of the event id in one transaction."""
    async with engine.begin() as conn:
        if not await claim_event(conn, "kafka-bus-test", event.id):
            return False
        await conn.execute(EFFECTS.insert().values(event_id=event.id))
    return True


async def test_a_consumer_stopped_mid_batch_loses_nothing_and_applies_each_event_once(
    make_kafka_bus: MakeBus, new_group: NewGroup, effects_db: AsyncEngine
) -> None:
    source, group, n = a_source(), await new_group(TOPIC), 120
    users = [str(uuid.uuid4()) for _ in range(4)]
    events = [make_event(source, users[i % 4], i // 4) for i in range(n)]
    handled_a: list[str] = []
    finished_a: list[str] = []  # handled and returned: acknowledged
    stuck: list[str] = []
    handled_b: list[str] = []
    skipped_b: list[str] = []
    crashed = asyncio.Event()

    async def first_consumer(event: CloudEvent) -> None:
        if event.source != source:
            return
        handled_a.append(event.id)
        await apply_once(effects_db, event)
        if len(handled_a) >= 40 and not stuck:
            stuck.append(event.id)
            crashed.set()
            await asyncio.Event().wait()  # stuck after the effect, before the ack
        finished_a.append(event.id)

    async def second_consumer(event: CloudEvent) -> None:
        if event.source != source:
            return
        applied = await apply_once(effects_db, event)
        # Noted once its effect is committed: the test waits on this list, then reads
        # the effects.
        handled_b.append(event.id)
        if not applied:
            skipped_b.append(event.id)

    producer = make_kafka_bus()
    assert await producer.publish_many([(str(TOPIC), e) for e in events]) == (n, None)
    bus_a = make_kafka_bus()
    await bus_a.start([Subscription(TOPIC, group, first_consumer)])
    await asyncio.wait_for(crashed.wait(), timeout=20)
    await bus_a.stop()  # cancels the consumer in the middle of its batch

    bus_b = make_kafka_bus()
    await bus_b.start([Subscription(TOPIC, group, second_consumer)])
    all_ids = {e.id for e in events}
    await eventually(lambda: set(finished_a) | set(handled_b) >= all_ids)

    async with effects_db.connect() as conn:
        applied = (await conn.execute(sa.select(EFFECTS.c.event_id))).scalars().all()
    assert len(applied) == n
    assert set(applied) == all_ids
    # What the first consumer acknowledged (its handler returned) stays done: the
    # stop commits it. What it had not acknowledged comes again; where the effect
    # was applied already (the stuck record) the idempotent handler recognises it.
    assert not set(handled_b) & set(finished_a)
    assert set(handled_b) == all_ids - set(finished_a)
    assert stuck[0] in skipped_b
    assert set(skipped_b) <= set(handled_a) - set(finished_a)


def users_on_other_partitions(count: int) -> list[str]:
    """User ids whose events land on `count` different partitions of TOPIC."""
    partitions = list(range(TOPIC_PARTITIONS[TOPIC]))
    found: dict[int, str] = {}
    while len(found) < count:
        user = str(uuid.uuid4())
        found.setdefault(cached_partitioner(user.encode(), partitions, partitions), user)
    return list(found.values())


async def test_a_slow_partition_does_not_hold_up_the_others(
    make_kafka_bus: MakeBus, new_group: NewGroup
) -> None:
    """One fetch's partitions are handled side by side: a user whose event waits
    does not delay the users of the other partitions, and each stays in order.
    Here each of two users waits for the other once (x's first event for y's
    sixth, y's seventh for x's first): handled one partition after the other,
    whichever came first, that never ends."""
    source, group = a_source(), await new_group(TOPIC)
    x, y = users_on_other_partitions(2)
    events = [make_event(source, user, seq) for seq in range(10) for user in (x, y)]
    reached = {(x, 0): asyncio.Event(), (y, 5): asyncio.Event()}
    waits_for = {(x, 0): (y, 5), (y, 6): (x, 0)}
    seen: dict[str, list[int]] = defaultdict(list)

    async def handler(event: CloudEvent) -> None:
        if event.source != source:
            return
        key = (event.userid, event.data["seq"])
        if key in waits_for:
            await asyncio.wait_for(reached[waits_for[key]].wait(), timeout=10)
        seen[event.userid].append(event.data["seq"])
        if key in reached:
            reached[key].set()

    producer = make_kafka_bus()
    assert await producer.publish_many([(str(TOPIC), e) for e in events]) == (20, None)
    bus = make_kafka_bus()
    await bus.start([Subscription(TOPIC, group, handler)])
    try:
        await eventually(lambda: len(seen[x]) == len(seen[y]) == 10, timeout=20)
    finally:
        await bus.stop()
    assert seen[x] == list(range(10))
    assert seen[y] == list(range(10))


async def test_poison_events_go_to_the_dlq_and_the_partition_keeps_flowing(
    make_kafka_bus: MakeBus, new_group: NewGroup, open_tail: OpenTail, kafka_servers: str
) -> None:
    source, group, user = a_source(), await new_group(TOPIC), str(uuid.uuid4())
    dlq = await open_tail(Topic.DLQ_EVENTS)
    topic_tail = await open_tail(TOPIC)
    received = Received(source)
    attempts: list[str] = []

    async def picky(event: CloudEvent) -> None:
        if event.source == source and event.data.get("poison"):
            attempts.append(event.id)
            raise PermanentFailure("refers to a task that never existed")
        await received(event)

    bus = make_kafka_bus()
    await bus.start([Subscription(TOPIC, group, picky)])
    refused = make_event(source, user, 0, poison=True)
    after = make_event(source, user, 1)
    await bus.publish(TOPIC, refused)
    raw = AIOKafkaProducer(bootstrap_servers=kafka_servers)
    await raw.start()
    try:  # not a CloudEvent at all, on the same partition (same key)
        await raw.send_and_wait(str(TOPIC), f"{{not json {source}".encode(), key=user.encode())
    finally:
        await raw.stop()
    await bus.publish(TOPIC, after)

    await eventually(lambda: received.ids == [after.id])
    assert attempts == [refused.id]  # a permanent failure is not retried

    dead = [json.loads(r.value) for r in await dlq.read(lambda rs: len(ours(rs, source)) == 2)]
    dead = [d for d in dead if source in json.dumps(d)]
    by_type = {d["type"]: d for d in dead}
    assert by_type["task.updated"]["id"] == refused.id
    assert by_type["task.updated"]["data"] == refused.data
    assert by_type["task.updated"]["dlqreason"].startswith("PermanentFailure: refers to")
    assert by_type["dlq.unparseable"]["data"]["raw"] == f"{{not json {source}"
    assert "unparseable CloudEvent" in by_type["dlq.unparseable"]["dlqreason"]
    assert {d["dlqconsumer"] for d in dead} == {group}
    assert {d["dlqtopic"] for d in dead} == {str(TOPIC)}
    on_topic = await topic_tail.read(lambda rs: len(ours(rs, source)) == 3)
    assert len({r.partition for r in ours(on_topic, source)}) == 1


class UnreachableDlqBus(KafkaBus):
    """Its first `failures` publishes to `dlq-events` fail, as in an outage."""

    def __init__(self, servers: str, *, failures: int) -> None:
        super().__init__(servers, client_id=f"test-{uuid.uuid4().hex[:8]}")
        self.failures = failures

    async def publish(self, topic: str, event: CloudEvent) -> None:
        if topic == Topic.DLQ_EVENTS and self.failures > 0:
            self.failures -= 1
            raise KafkaConnectionError("dlq-events unreachable")
        await super().publish(topic, event)


async def test_an_unacknowledged_delivery_is_retried_from_its_offset_never_skipped(
    new_group: NewGroup, open_tail: OpenTail, kafka_servers: str
) -> None:
    source, group, user = a_source(), await new_group(TOPIC), str(uuid.uuid4())
    dlq = await open_tail(Topic.DLQ_EVENTS)
    seen: list[int] = []

    async def handler(event: CloudEvent) -> None:
        if event.source != source:
            return
        seen.append(event.data["seq"])
        if event.data.get("poison"):
            raise PermanentFailure("cannot apply")

    bus = UnreachableDlqBus(kafka_servers, failures=2)
    try:
        await bus.start([Subscription(TOPIC, group, handler)])
        await bus.publish(TOPIC, make_event(source, user, 0, poison=True))
        await bus.publish(TOPIC, make_event(source, user, 1))
        await eventually(lambda: 1 in seen)
    finally:
        await bus.stop()
    # Delivered again until its dead-lettering succeeded; only then the next one.
    assert seen == [0, 0, 0, 1]
    dead = await dlq.read(lambda rs: len(ours(rs, source)) == 1)
    assert [json.loads(r.value)["data"]["seq"] for r in ours(dead, source)] == [0]


async def kafka_script(command: str) -> int:
    process = await asyncio.create_subprocess_exec(
        str(SCRIPTS / "kafka.sh"),
        command,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await process.wait()


async def kafka_output(command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        str(SCRIPTS / "kafka.sh"), command, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, f"scripts/kafka.sh {command} failed"
    return out.decode()


async def test_a_broker_crash_fails_publishing_fast_and_both_sides_recover(
    make_kafka_bus: MakeBus, new_group: NewGroup
) -> None:
    source, user, n = a_source(), str(uuid.uuid4()), 40
    received, every = Received(source), Received(source)
    bus = make_kafka_bus(delivery_timeout=3.0)
    group = await new_group(TOPIC)
    everyone = Subscription(TOPIC, group, every, every_process=True)
    await bus.start([Subscription(TOPIC, group, received), everyone])
    acked: list[CloudEvent] = []
    failures: list[BaseException] = []
    failed = asyncio.Event()

    async def relay_like() -> None:
        """Publishes seq 0..n-1 in order, retrying the failed one like the relay."""
        seq = 0
        while seq < n:
            event = make_event(source, user, seq)
            guard = asyncio.timeout(10)  # the bus must give up well before this
            try:
                async with guard:
                    await bus.publish(TOPIC, event)
            except (KafkaError, TimeoutError, OSError) as exc:
                assert not guard.expired(), "publish hung while the broker was down"
                failures.append(exc)
                failed.set()
                await asyncio.sleep(0.2)
                continue
            acked.append(event)
            seq += 1
            await asyncio.sleep(0.02)

    publishing = asyncio.create_task(relay_like())
    try:
        try:
            await eventually(lambda: len(acked) >= 10)
            assert await kafka_script("kill") == 0
            await asyncio.wait_for(failed.wait(), timeout=15)
            with pytest.raises((KafkaError, OSError)):
                await bus.ping()
            assert not publishing.done()
        finally:  # never leave the broker down for the tests that follow
            if await kafka_script("status") != 0:
                assert await kafka_script("start") == 0
        await asyncio.wait_for(publishing, timeout=60)
    finally:
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)

    # Everything acknowledged arrives, each user's order intact; the consumers
    # came back by themselves (the group's and the every-process one).
    for handler in (received, every):
        await eventually(lambda h=handler: {e.id for e in acked} <= set(h.ids), timeout=60)
        first_seen = list(dict.fromkeys(e.data["seq"] for e in handler.events))
        assert first_seen == list(range(n))
    assert failures
    await bus.ping()


async def test_events_whose_data_breaks_the_schema_go_to_the_dlq_unhandled(
    make_kafka_bus: MakeBus, new_group: NewGroup, open_tail: OpenTail, kafka_servers: str
) -> None:
    source, group, user = a_source(), await new_group(TOPIC), str(uuid.uuid4())
    dlq = await open_tail(Topic.DLQ_EVENTS)
    received = Received(source)
    bus = make_kafka_bus()
    await bus.start([Subscription(TOPIC, group, received)])

    def arriving(event_type: str, data: dict[str, Any]) -> CloudEvent:
        # As a broken or foreign producer publishes it: without new_event's check.
        return CloudEvent(type=event_type, source=source, userid=user, data=data)

    broken = {
        "unknown event type 'task.renamed'": arriving("task.renamed", task_updated()),
        "changed: Field required": arriving("task.updated", {"task": task_updated()["task"]}),
        "task.version: Input should be a valid integer": arriving(
            "task.updated", task_updated() | {"task": {**task_updated()["task"], "version": "x"}}
        ),
    }
    after = make_event(source, user, 1)
    for event in broken.values():
        await bus.publish(TOPIC, event)
    await bus.publish(TOPIC, after)

    await eventually(lambda: received.ids == [after.id])
    records = await dlq.read(lambda rs: len(ours(rs, source)) == len(broken))
    dead = {d["id"]: d for d in (json.loads(r.value) for r in ours(records, source))}
    for reason, event in broken.items():
        assert dead[event.id]["data"] == event.data
        assert dead[event.id]["dlqconsumer"] == group
        assert dead[event.id]["dlqreason"].startswith("InvalidEventData: ")
        assert reason in dead[event.id]["dlqreason"]


async def test_the_relay_sends_each_row_as_the_outbox_stored_it_in_order_per_user(
    container: Container,
    make_kafka_bus: MakeBus,
    open_tail: OpenTail,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An event the relay's span leaves as it is goes out as the very JSON
    the outbox holds (not serialised again), keyed by user, in order."""
    # As in a process with no tracing set up (no OTLP endpoint): its spans record nothing.
    # (Tests that export spans install a tracer provider for the whole run.)
    monkeypatch.setattr(tracing, "_tracer", trace.NoOpTracer())
    source = a_source()
    tail = await open_tail(TOPIC)
    users = [str(uuid.uuid4()) for _ in range(4)]
    # A title the outbox stores \u-escaped: re-serialised, the bytes would differ.
    events = [make_event(source, users[i % 4], i // 4, title="Müll") for i in range(60)]
    rows = [{**row, "topic": str(TOPIC)} for row in outbox_rows(events)]
    async with container.engine.begin() as conn:
        await conn.execute(outbox_table.insert(), rows)
    assert not tracing.recording()
    bus = make_kafka_bus()
    stored_batches: list[int] = []
    publish_stored = bus.publish_stored

    async def counted(records: Any) -> tuple[int, Exception | None]:
        stored_batches.append(len(records))
        return await publish_stored(records)

    monkeypatch.setattr(bus, "publish_stored", counted)
    relay = OutboxRelay(container.engine, bus, batch_size=25)
    while await relay.run_once():
        pass
    assert stored_batches == [25, 25, 10]  # sent unparsed, as stored
    records = ours(await tail.read(lambda rs: len(ours(rs, source)) == 60), source)
    stored = {str(row["event_id"]): str(row["payload"]).encode() for row in rows}
    for record in records:
        event_id = json.loads(record.value)["id"]
        assert record.value == stored[event_id]
        assert record.key == json.loads(record.value)["userid"].encode()
    for user in users:
        seqs = [json.loads(r.value)["data"]["seq"] for r in records if r.key == user.encode()]
        assert seqs == list(range(15))


async def test_records_that_outgrow_a_batch_go_in_several_in_order_with_headers(
    make_kafka_bus: MakeBus, open_tail: OpenTail
) -> None:
    """A relay batch bigger than the producer's batch size goes out in several
    produce batches per partition, and an event larger than a whole batch travels
    alone. Every record keeps its key, its headers and its user's order, and the
    delivered count is all of them."""
    source = a_source()
    tail = await open_tail(TOPIC)
    users = [str(uuid.uuid4()) for _ in range(3)]
    batch_size = PRODUCER_OPTIONS["max_batch_size"]
    events = [
        make_event(source, users[i % 3], i // 3, note="x" * (batch_size // 40)) for i in range(150)
    ]
    events.insert(7, make_event(source, users[1], -1, note="y" * (batch_size + 1000)))
    records = [(str(TOPIC), e.userid, e.model_dump_json().encode()) for e in events]
    assert sum(len(value) for _, _, value in records) > 4 * batch_size
    bus = make_kafka_bus()
    delivered, error = await bus.publish_stored(records)
    assert error is None
    assert delivered == len(records)
    got = ours(await tail.read(lambda rs: len(ours(rs, source)) == len(records)), source)
    assert len(got) == len(records)
    for user in users:
        mine = [r for r in got if r.key == user.encode()]
        sent = [e.data["seq"] for e in events if e.userid == user]
        assert [json.loads(r.value)["data"]["seq"] for r in mine] == sent
        assert all(dict(r.headers)["content-type"] == CONTENT_TYPE.encode() for r in mine)


async def test_single_and_batched_publishes_of_a_user_share_its_partition_in_order(
    make_kafka_bus: MakeBus, open_tail: OpenTail, kafka_servers: str
) -> None:
    """`publish` sends record by record and `publish_stored` (the relay's path)
    packs a record batch per partition: both put a user's events on the partition
    Kafka's default partitioner gives their key, so one after the other they keep
    that user's order."""
    source = a_source()
    tail = await open_tail(TOPIC)
    users = [str(uuid.uuid4()) for _ in range(6)]
    bus = make_kafka_bus()
    for user in users:
        await bus.publish(TOPIC, make_event(source, user, 0))
    batch = [make_event(source, users[i % 6], 1 + i // 6) for i in range(60)]
    stored = [(str(TOPIC), e.userid, e.model_dump_json().encode()) for e in batch]
    assert await bus.publish_stored(stored) == (60, None)
    for user in users:
        await bus.publish(TOPIC, make_event(source, user, 11))
    got = ours(await tail.read(lambda rs: len(ours(rs, source)) == 72), source)
    count = len(await topic_partitions(kafka_servers, str(TOPIC)))
    for user in users:
        mine = [r for r in got if r.key == user.encode()]
        assert [json.loads(r.value)["data"]["seq"] for r in mine] == list(range(12))
        expected = int(murmur2(user.encode())) & 0x7FFFFFFF
        assert {r.partition for r in mine} == {expected % count}


# A member of a consumer group that stops answering (its process frozen) holds every
# later join until it answers again: the broker waits for it to rejoin. That is the
# state the bus must not sit in silently.
_STALLING_MEMBER = """
import asyncio, signal, sys
from aiokafka import AIOKafkaConsumer

async def main():
    servers, group, topic = sys.argv[1:4]
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=servers, group_id=group, enable_auto_commit=False,
        session_timeout_ms=120_000, heartbeat_interval_ms=1_000,
        rebalance_timeout_ms=120_000, max_poll_interval_ms=120_000,
    )
    await consumer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("joined", flush=True)
    while not stop.is_set():
        await consumer.getmany(timeout_ms=200)
    await consumer.stop()

asyncio.run(main())
"""


@contextlib.asynccontextmanager
async def frozen_member(
    kafka_servers: str, group: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Another member of `group`, in a process of its own, frozen (SIGSTOP) once it
    has joined: the broker then holds every later join of the group until it answers.
    Let go (SIGCONT) and stopped on the way out."""
    member = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _STALLING_MEMBER,
        kafka_servers,
        group,
        str(TOPIC),
        stdout=asyncio.subprocess.PIPE,
    )
    assert member.stdout is not None
    try:
        async with asyncio.timeout(30):
            assert await member.stdout.readline() == b"joined\n"
        member.send_signal(signal.SIGSTOP)
        yield member
    finally:
        if member.returncode is None:
            member.send_signal(signal.SIGCONT)
            member.terminate()
            try:
                async with asyncio.timeout(20):
                    await member.wait()
            except TimeoutError:
                member.kill()
                await member.wait()


async def test_a_consumer_kept_out_of_its_group_says_so_and_counts_the_wait(
    make_kafka_bus: MakeBus,
    new_group: NewGroup,
    kafka_servers: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="events.kafka")
    source, group = a_source(), await new_group(TOPIC)
    async with frozen_member(kafka_servers, group) as member:
        received = Received(source)
        bus = make_kafka_bus(join_patience=1.0)
        await bus.start([Subscription(TOPIC, group, received)])

        def said(text: str) -> int:
            return sum(text in r.getMessage() for r in caplog.records)

        await eventually(lambda: said(f"consumer group {group}: not a member for") == 1)
        assert bus.groups_joining()[group] >= 1.0
        # said again as the wait grows by the patience
        await eventually(lambda: said(f"consumer group {group}: not a member for") >= 2)
        assert said(f"consumer group {group}: a member again") == 0

        member.send_signal(signal.SIGCONT)  # it rejoins, and the join completes
        await eventually(lambda: said(f"consumer group {group}: a member again after") == 1, 60)
        assert bus.groups_joining() == {group: 0.0}
        # The other member leaves, so every partition is this bus's, and it consumes.
        member.terminate()
        async with asyncio.timeout(20):
            await member.wait()
        event = make_event(source, str(uuid.uuid4()), 0)
        await bus.publish(TOPIC, event)
        await eventually(lambda: received.ids == [event.id], 60)


async def groups_on_the_broker(servers: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, client_id="test-list-groups")
    await admin.start()
    try:
        return {str(found[0]) for found in await admin.list_consumer_groups()}
    finally:
        await admin.close()


async def test_every_process_gets_every_event_since_its_start_outside_any_group(
    make_kafka_bus: MakeBus, kafka_servers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes' every-process subscriptions (two buses) each get every event
    published after their start, each user's in order, even what was published
    before they reached the broker; nothing from before; and no group is formed."""
    source, users = a_source(), [str(uuid.uuid4()) for _ in range(3)]
    publisher = make_kafka_bus()
    monkeypatch.setattr(kafka, "EVERY_PROCESS_MARGIN_S", 0.0)
    before = make_event(source, users[0], -1)
    await publisher.publish(TOPIC, before)
    published_by = time.time()
    await eventually(lambda: time.time() > published_by + 0.005)  # the clock moved past it

    # The readers reach the broker only when the test lets them.
    reach = asyncio.Event()

    class LateConsumer(kafka.AIOKafkaConsumer):  # type: ignore[misc]
        async def start(self) -> None:
            await reach.wait()
            await super().start()

    monkeypatch.setattr(kafka, "AIOKafkaConsumer", LateConsumer)
    group = f"test-every-process-{uuid.uuid4().hex}"
    buses, received = [make_kafka_bus(), make_kafka_bus()], [Received(source), Received(source)]
    for bus, handler in zip(buses, received, strict=True):
        await bus.start([Subscription(TOPIC, group, handler, every_process=True)])
    assert not any(bus.reading_every_process() for bus in buses)

    early = [make_event(source, users[i % 3], i // 3) for i in range(30)]
    assert await publisher.publish_many([(str(TOPIC), e) for e in early]) == (30, None)
    reach.set()
    await eventually(lambda: all(bus.reading_every_process() for bus in buses))
    late = [make_event(source, users[i % 3], 10 + i // 3) for i in range(30)]
    assert await publisher.publish_many([(str(TOPIC), e) for e in late]) == (30, None)

    await eventually(lambda: all(len(r.events) == 60 for r in received))
    for handler in received:
        assert before.id not in handler.ids
        assert set(handler.ids) == {e.id for e in [*early, *late]}
        for user in users:
            assert [e.data["seq"] for e in handler.events if e.userid == user] == list(range(20))
    assert group not in await groups_on_the_broker(kafka_servers)


async def test_a_group_kept_waiting_does_not_hold_up_what_every_process_reads(
    make_kafka_bus: MakeBus, new_group: NewGroup, kafka_servers: str
) -> None:
    """The live feed's failure in a fault campaign, in small: the broker holds a
    group's join (here: another member that does not answer), and the group's
    subscriber gets nothing meanwhile; the same bus's every-process subscriber
    is not held up."""
    source, group = a_source(), await new_group(TOPIC)
    async with frozen_member(kafka_servers, group):
        in_group, every = Received(source), Received(source)
        bus = make_kafka_bus()
        await bus.start(
            [
                Subscription(TOPIC, group, in_group),
                Subscription(TOPIC, group, every, every_process=True),
            ]
        )
        await eventually(lambda: bus.reading_every_process())
        events = [make_event(source, str(uuid.uuid4()), 0) for _ in range(5)]
        assert await bus.publish_many([(str(TOPIC), e) for e in events]) == (5, None)
        await eventually(lambda: len(every.events) == 5)
        assert bus.groups_joining()[group] > 0  # the group is still waiting to join
        assert in_group.events == []


async def test_a_dead_letter_whose_ack_came_late_is_not_sent_twice(
    make_kafka_bus: MakeBus, open_tail: OpenTail
) -> None:
    """A publish whose acknowledgement does not come in time raises, yet the producer
    goes on sending the record. Published again (the consumer retries the delivery
    that dead-letters it), the same dead letter waits for that send instead of going
    to the topic a second time. Here the broker is frozen while the first try waits."""
    source = a_source()
    bus = make_kafka_bus(delivery_timeout=1.0)
    await bus.publish(TOPIC, make_event(source, str(uuid.uuid4()), 0))  # the producer is up
    tail = await open_tail(TOPIC)
    original = make_event(source, str(uuid.uuid4()), 1)
    letters = [
        dead_letter_event(original, consumer=group, topic="task-events", reason="unparseable")
        for group in ("audit", "notification")
    ]
    pid = int((await kafka_output("pid")).strip())
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(TimeoutError, match=r"did not acknowledge within 1\.0 s"):
            await bus.publish(TOPIC, letters[0])
    finally:
        os.kill(pid, signal.SIGCONT)
    await bus.publish(TOPIC, letters[0])  # again: it waits for the first send
    await bus.publish(TOPIC, letters[1])  # another group's dead letter of the same event
    last = make_event(source, str(uuid.uuid4()), 2)
    await bus.publish(TOPIC, last)

    def written(records: list[Any]) -> list[tuple[str, str | None]]:
        values = [json.loads(r.value) for r in ours(records, source)]
        return [(v["id"], v.get("dlqconsumer")) for v in values]

    # The dead letters share a partition (their user's), `last` is on another: read
    # until both partitions are past what was sent. A second copy of the first dead
    # letter would sit before the second one in that partition.
    records = await tail.read(
        lambda rs: {(original.id, "notification"), (last.id, None)} <= set(written(rs))
    )
    assert sorted(written(records), key=str) == sorted(
        [(original.id, "audit"), (original.id, "notification"), (last.id, None)], key=str
    )


async def test_a_steady_stream_is_fetched_in_batches_not_one_fetch_per_event(
    make_kafka_bus: MakeBus, new_group: NewGroup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a steady trickle of events, a group consumer and an every-process
    consumer each ask the broker for a batch at a time, not for every event:
    a fetch per event cost a consumer most of its CPU."""
    fetches: Counter[str] = Counter()
    send = AIOKafkaClient.send

    async def counted(client: Any, node_id: Any, request: Any, **kwargs: Any) -> Any:
        if type(request).__name__.startswith("FetchRequest"):
            fetches[client._client_id] += 1
        return await send(client, node_id, request, **kwargs)

    monkeypatch.setattr(AIOKafkaClient, "send", counted)
    source, user = a_source(), str(uuid.uuid4())
    in_group, every_process = Received(source), Received(source)
    bus = make_kafka_bus()
    group = await new_group(TOPIC)
    await bus.start(
        [
            Subscription(TOPIC, group, in_group),
            Subscription(TOPIC, f"{group}-all", every_process, every_process=True),
        ]
    )
    publisher = make_kafka_bus()
    await publisher.publish(TOPIC, make_event(source, user, 0))
    await eventually(lambda: len(in_group.events) == len(every_process.events) == 1)

    fetches.clear()
    events = 200
    for seq in range(1, events + 1):
        await publisher.publish(TOPIC, make_event(source, user, seq))
        await asyncio.sleep(0.01)  # the stream's pace, not a wait for anything
    await eventually(lambda: len(in_group.events) == len(every_process.events) == events + 1)

    assert [e.data["seq"] for e in in_group.events] == list(range(events + 1))
    assert [e.data["seq"] for e in every_process.events] == list(range(events + 1))
    consumers = {name: n for name, n in fetches.items() if not name.endswith("-ping")}
    assert len(consumers) == 2, consumers
    for name, count in consumers.items():
        assert count < events / 4, f"{name} fetched {count} times for {events} events"
