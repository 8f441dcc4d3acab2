"""What the databases and the DLQ hold at the end of a run, once the system
has gone quiet."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.faults.checker import AuditRow, Delivery, SeriesTask
from bench.faults.stack import Sink
from events.kafka import DEPLOYMENT_HEADER


async def quiesce(engine: AsyncEngine, limit: float = 180, still: float = 6.0) -> float:
    """Wait until the outbox is drained and the audit trail stopped growing
    for `still` seconds; return how long it took."""
    start = time.monotonic()
    last, since = -1, time.monotonic()
    while time.monotonic() - start < limit:
        async with engine.connect() as conn:
            pending = (
                await conn.execute(sa.text("SELECT count(*) FROM outbox_pending"))
            ).scalar_one()
            audited = (await conn.execute(sa.text("SELECT count(*) FROM audit_logs"))).scalar_one()
        if pending or audited != last:
            last, since = audited, time.monotonic()
        elif time.monotonic() - since >= still:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - start


async def audit_rows(engine: AsyncEngine) -> list[AuditRow]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT event_id, event_type, resource_id FROM audit_logs")
        )
        return [AuditRow(r[0], r[1], r[2]) for r in rows]


async def series_tasks(engine: AsyncEngine, series_ids: set[str]) -> list[SeriesTask]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT id, series_id, due_at FROM tasks WHERE series_id IS NOT NULL")
        )
        return [
            SeriesTask(str(r[0]), str(r[1]), r[2].isoformat() if r[2] else None)
            for r in rows
            if str(r[1]) in series_ids
        ]


async def deliveries(engine: AsyncEngine, sink: Sink, titles: dict[str, str]) -> list[Delivery]:
    found: list[Delivery] = []
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT task_id FROM notifications WHERE task_id IS NOT NULL")
        )
        found += [Delivery("in_app", str(r[0])) for r in rows]
    for text, message_id in sink.emails:
        subject = text.split("\n", 1)[0]
        if subject in titles:
            found.append(Delivery("email", titles[subject], message_id))
    for payload in sink.webhooks:
        if payload.get("task_id"):
            key = payload.get("event_id")
            found.append(Delivery("webhook", str(payload["task_id"]), key and str(key)))
    return found


async def dlq_entries(kafka: str, prefix: str) -> list[tuple[str, str]]:
    """The records of dlq-events this run's consumer groups wrote, as
    (event id, consumer group)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = [
            TopicPartition("dlq-events", p)
            for p in consumer.partitions_for_topic("dlq-events") or {0}
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[tuple[str, str]] = []

        async def behind() -> bool:
            return any([await consumer.position(p) < ends[p] for p in parts])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    try:
                        event: dict[str, Any] = json.loads(record.value)
                    except ValueError:
                        continue  # not a CloudEvent: not written by a consumer
                    headers = dict(record.headers or ())
                    if headers.get(DEPLOYMENT_HEADER, b"").decode() == prefix:
                        out.append((str(event.get("id")), str(event.get("dlqconsumer"))))
        return out
    finally:
        await consumer.stop()
