"""Relay: outbox relay throughput on PostgreSQL, against its floors.

The outbox of a database of its own is filled with N committed `task.created`
events (built by the service's own `task_event`, spread over U users, in
commit order) by COPY; then one `OutboxRelay` with bootstrap's settings
(RELAY_BATCH_SIZE, RELAY_WINDOW and a 1 s poll) publishes until it has delivered all N:

- to the memory bus with a no-op subscriber;
- to Kafka through `KafkaBus` (the producer warmed up first);
- to Kafka again, with every event from a user of its own: a window then holds
  as many users as rows (`relay_spread_vs_producer`).

The floors, in the same rounds on the same rows and broker:

- the database work alone: raw asyncpg claiming batches of 200 with the
  relay's own query (FOR UPDATE SKIP LOCKED, advisory lock per user) and
  marking them sent (deleting their queue rows);
- the broker alone: a raw aiokafka producer with KafkaBus's settings and
  partitioner sending the same keys and payload bytes in batches of 200,
  awaiting each batch, record by record with `send` (`relay_vs_producer`, the
  headline) and packed into one record batch per partition with `send_batch`
  as the relay now sends (`relay_vs_batch_producer`);
- both one after the other (1 / (1/db + 1/producer)), what a relay that
  claims, publishes and marks in sequence could reach at best.

Events go to a topic of the run's own with task-events' partition count, so
no consumer of the shared broker sees them. Rounds alternate the sides.
"""

import asyncio
import contextlib
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg

from bench.common import Database, Stopwatch, database, ratio, recreate_database, runner_of
from bench.create_floor import Bodies
from bench.kafka_floor import BenchTopic, kafka_servers, producer_seconds
from bench.report_events import render_relay
from bench.system import created_event
from events.bus import Subscription
from events.cloudevents import CloudEvent
from events.memory import MemoryBus
from events.relay import OutboxRelay
from events.topics import Topic
from services.shared.db import create_engine
from services.shared.settings import Settings

DATABASE = "todo_bench_relay"
BATCH: int = Settings.model_fields["relay_batch_size"].default
WINDOW: int = Settings.model_fields["relay_window"].default
DRAIN_LIMIT = 300.0
CLAIM_SQL = (
    "SELECT o.id, o.topic, o.payload FROM outbox AS o JOIN ("
    "  SELECT id FROM outbox_pending WHERE pg_try_advisory_xact_lock(hashtext(partition_key))"
    "  ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) AS p ON p.id = o.id "
    "ORDER BY o.id"
)
MARK_SQL = "DELETE FROM outbox_pending WHERE id = ANY($1::bigint[])"
RELAY_MEMORY = "relay -> memory bus"
RELAY_KAFKA = "relay -> Kafka"
RELAY_KAFKA_SPREAD = "relay -> Kafka, user/event"
FLOOR_DB = "raw asyncpg claim + mark"
FLOOR_PRODUCER = "raw aiokafka producer"
FLOOR_BATCH_PRODUCER = "raw aiokafka producer, record batches"


@dataclass(frozen=True, slots=True)
class RelayConfig:
    events: int
    users: int
    rounds: int


FULL = RelayConfig(events=20_000, users=100, rounds=3)
QUICK = RelayConfig(events=5_000, users=50, rounds=2)


@dataclass(frozen=True, slots=True)
class Row:
    event_id: str
    event_type: str
    partition_key: str
    payload: str
    created_at: datetime


def _rows(cfg: RelayConfig, *, spread: bool = False) -> list[Row]:
    """N task.created events as the service writes them, users interleaved
    (`spread`: each event from a user of its own)."""
    rng = random.Random(5)
    bodies = Bodies(3)
    count = cfg.events if spread else cfg.users
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(count)]
    rows = []
    for number in range(cfg.events):
        user = users[number] if spread else rng.choice(users)
        event = created_event(user, bodies.next(), "Europe/Berlin")
        # The payload exactly as events.outbox.write_outbox stores it.
        payload = json.dumps(event.to_json_dict(), separators=(",", ":"))
        rows.append(Row(event.id, event.type, event.userid, payload, event.time))
    return rows


async def _fill(db: Database, rows: list[Row], topic: str) -> None:
    """A fresh outbox holding `rows`, unsent (the COPY queues them, as any
    insert does), in commit order."""
    conn = await asyncpg.connect(db.dsn)
    try:
        await conn.execute("TRUNCATE outbox, outbox_pending RESTART IDENTITY")
        await conn.copy_records_to_table(
            "outbox",
            columns=["event_id", "topic", "event_type", "partition_key", "payload", "created_at"],
            records=[(r.event_id, topic, r.event_type, r.partition_key, r.payload, r.created_at)
                     for r in rows],
        )
        await conn.execute("VACUUM (ANALYZE) outbox, outbox_pending")
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True)
class Run:
    side: str
    events: int
    seconds: float
    cpu_s: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "cpu_us_per_event": round(self.cpu_s / self.events * 1e6, 1),
        }


async def _noop(event: CloudEvent) -> None:
    return None


async def _relay(side: str, db: Database, bus: Any, n: int) -> Run:
    engine = create_engine(db.url)
    relay = OutboxRelay(engine, bus, batch_size=BATCH, window=WINDOW)
    try:
        cpu, start = time.process_time(), time.perf_counter()
        await relay.start()
        async with asyncio.timeout(DRAIN_LIMIT):
            while relay.published_total < n:
                done = relay.published_total
                await asyncio.sleep(0.002 if done else 0.005)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        await relay.stop()
        await engine.dispose()
    return Run(side, n, seconds, cpu)


async def _relay_memory(db: Database, topic: str, n: int) -> Run:
    bus = MemoryBus()
    await bus.start([Subscription(topic, "bench-noop", _noop)])
    try:
        return await _relay(RELAY_MEMORY, db, bus, n)
    finally:
        await bus.stop()  # its lanes' workers end with it


async def _relay_kafka(
    db: Database, servers: str, topic: str, warm: Row, n: int, side: str = RELAY_KAFKA
) -> Run:
    from events.kafka import KafkaBus

    bus = KafkaBus(servers, client_id="todo-bench-relay")
    try:
        await bus.publish(topic, CloudEvent.model_validate_json(warm.payload))  # connect
        return await _relay(side, db, bus, n)
    finally:
        await bus.stop()


async def _floor_db(db: Database, n: int) -> Run:
    conn = await asyncpg.connect(db.dsn)
    try:
        cpu, start = time.process_time(), time.perf_counter()
        done = 0
        while True:
            async with conn.transaction():
                rows = await conn.fetch(CLAIM_SQL, BATCH)
                if rows:
                    await conn.execute(MARK_SQL, [r["id"] for r in rows])
            if not rows:
                break
            done += len(rows)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        await conn.close()
    if done != n:
        raise RuntimeError(f"the floor claimed {done} rows of {n}")
    return Run(FLOOR_DB, n, seconds, cpu)


async def _floor_producer(servers: str, topic: str, rows: list[Row], side: str) -> Run:
    items = [(r.partition_key.encode(), r.payload.encode()) for r in rows]
    packed = side == FLOOR_BATCH_PRODUCER
    cpu = time.process_time()
    seconds = await producer_seconds(servers, topic, items, BATCH, record_batches=packed)
    return Run(side, len(rows), seconds, time.process_time() - cpu)


def _median(runs: list[Run], side: str) -> float | None:
    rates = [r.per_second for r in runs if r.side == side]
    return statistics.median(rates) if rates else None


async def run(cfg: RelayConfig, log: Callable[[str], None]) -> dict[str, Any]:
    kafka, skipped = await kafka_servers()
    db = database(DATABASE)
    await recreate_database(db)
    watch = Stopwatch()
    rows = _rows(cfg)
    spread = _rows(cfg, spread=True)
    sizes = [len(r.payload) for r in rows]
    log(f"  built {len(rows):,} events twice ({watch.elapsed:.1f} s)")
    runs: list[Run] = []
    async with contextlib.AsyncExitStack() as stack:
        topic = str(Topic.TASK_EVENTS)
        if kafka is not None:
            topic = await stack.enter_async_context(BenchTopic(kafka, "relay"))
        else:
            log(f"  Kafka sides skipped: {skipped}")
        sides = [RELAY_MEMORY, FLOOR_DB]
        if kafka is not None:
            sides += [RELAY_KAFKA, FLOOR_PRODUCER, RELAY_KAFKA_SPREAD, FLOOR_BATCH_PRODUCER]
        for round_no in range(cfg.rounds):
            shift = round_no % len(sides)
            for side in sides[shift:] + sides[:shift]:
                if side == RELAY_KAFKA_SPREAD:
                    await _fill(db, spread, topic)
                elif side not in (FLOOR_PRODUCER, FLOOR_BATCH_PRODUCER):
                    await _fill(db, rows, topic)
                if side == RELAY_MEMORY:
                    result = await _relay_memory(db, topic, len(rows))
                elif side == FLOOR_DB:
                    result = await _floor_db(db, len(rows))
                elif side in (RELAY_KAFKA, RELAY_KAFKA_SPREAD):
                    assert kafka is not None
                    result = await _relay_kafka(db, kafka, topic, rows[0], len(rows), side)
                else:
                    assert kafka is not None
                    result = await _floor_producer(kafka, topic, rows, side)
                runs.append(result)
                log(f"  round {round_no + 1}: {side}: {result.per_second:,.0f} events/s"
                    f" ({watch.elapsed:.0f} s)")
    memory, db_floor = _median(runs, RELAY_MEMORY), _median(runs, FLOOR_DB)
    relay_kafka, producer = _median(runs, RELAY_KAFKA), _median(runs, FLOOR_PRODUCER)
    relay_spread = _median(runs, RELAY_KAFKA_SPREAD)
    batch_producer = _median(runs, FLOOR_BATCH_PRODUCER)
    out: dict[str, Any] = {
        "config": asdict(cfg) | {"batch_size": BATCH, "window": WINDOW},
        "payload_bytes": {"min": min(sizes), "median": statistics.median(sizes),
                          "max": max(sizes)},
        "runs": [r.as_dict() for r in runs],
        "median_per_second": {RELAY_MEMORY: memory, FLOOR_DB: db_floor,
                              RELAY_KAFKA: relay_kafka, FLOOR_PRODUCER: producer,
                              RELAY_KAFKA_SPREAD: relay_spread,
                              FLOOR_BATCH_PRODUCER: batch_producer},
    }
    assert memory is not None
    assert db_floor is not None
    out["ratio_memory_over_db_floor"] = round(ratio(memory, db_floor), 3)
    if relay_kafka is not None and producer is not None:
        sequential = 1 / (1 / db_floor + 1 / producer)
        out["sequential_floor_per_second"] = round(sequential, 1)
        out["ratio_kafka_over_producer"] = round(ratio(relay_kafka, producer), 3)
        out["ratio_kafka_over_sequential_floor"] = round(ratio(relay_kafka, sequential), 3)
        assert relay_spread is not None
        out["ratio_spread_over_producer"] = round(ratio(relay_spread, producer), 3)
        assert batch_producer is not None
        out["ratio_kafka_over_batch_producer"] = round(ratio(relay_kafka, batch_producer), 3)
    else:
        out["kafka_skipped"] = skipped
    return out


async def kafka_rounds(seconds: float) -> int:
    """The relay draining a full outbox to Kafka, refilled and drained again for
    `seconds` (what `make profile-relay` samples). How many events it relayed."""
    kafka, skipped = await kafka_servers()
    if kafka is None:
        raise SystemExit(f"the relay profile needs Kafka: {skipped}")
    cfg = FULL
    db = database(DATABASE)
    await recreate_database(db)
    rows = _rows(cfg)
    relayed = 0
    async with BenchTopic(kafka, "relay-profile") as topic:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            await _fill(db, rows, topic)
            await _relay_kafka(db, kafka, topic, rows[0], len(rows))
            relayed += len(rows)
    return relayed


runner = runner_of(run, render_relay, FULL, QUICK)
