"""The outbox relay: publishes committed events, in order, at least once.

It wakes when a unit of work commits (`notify`) and otherwise polls, so an
event leaves within milliseconds of its commit. Rows are published in id
order and marked sent only after the bus accepted them; a failure stops the
batch (later events of that user must not overtake it) and counts towards a
circuit breaker, so a broker outage only delays delivery. A bus with
`publish_many` (Kafka, the memory bus) takes the batch at once and reports
how many leading events it delivered.

On PostgreSQL several relays may run (one per replica): each claims rows with
`FOR UPDATE SKIP LOCKED` and takes a transaction-scoped advisory lock per
partition key, so no row is published twice at the same time and one user's
events are never published by two relays at once.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.breaker import CircuitBreaker
from events.bus import Publisher
from events.cloudevents import CloudEvent
from events.outbox import outbox_table
from events.tracing import end_publish_span, publish_span
from events.wakeable import WakeableLoop

log = logging.getLogger(__name__)

_CLAIM_PG = sa.text(
    "SELECT id, topic, payload FROM outbox "
    "WHERE sent_at IS NULL AND pg_try_advisory_xact_lock(hashtext(partition_key)) "
    "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
)


class BatchPublisher(Protocol):
    async def publish_many(
        self, items: Sequence[tuple[str, CloudEvent]]
    ) -> tuple[int, Exception | None]:
        """Publish in order; return how many leading items were delivered and,
        if not all, the error that stopped it."""


async def publish_in_order(
    publisher: Publisher,
    items: Sequence[tuple[str, CloudEvent]],
    stored: Sequence[str] | None = None,
) -> tuple[int, Exception | None]:
    """Publish each event inside a producer span continuing the trace it
    carries; the event goes out carrying that span. `stored` is each event's
    JSON as the outbox holds it: a bus that sends bytes (`publish_encoded`)
    sends it as it is for an event the span left unchanged, rather than
    serialising the event again."""
    spans, traced, encoded = [], [], []
    for index, (topic, event) in enumerate(items):
        span, carried = publish_span(event, topic)
        spans.append(span)
        traced.append((topic, carried))
        as_stored = stored is not None and carried is event
        encoded.append(stored[index].encode() if as_stored and stored is not None else None)
    send_encoded = getattr(publisher, "publish_encoded", None)
    if send_encoded is not None:
        delivered, error = await send_encoded(traced, encoded)
    else:
        delivered, error = await _publish_in_order(publisher, traced)
    for index, span in enumerate(spans):
        end_publish_span(span, error if index == delivered else None)
    return delivered, error


async def _publish_in_order(
    publisher: Publisher, items: Sequence[tuple[str, CloudEvent]]
) -> tuple[int, Exception | None]:
    many = getattr(publisher, "publish_many", None)
    if many is not None:
        result: tuple[int, Exception | None] = await many(items)
        return result
    for done, (topic, event) in enumerate(items):
        try:
            await publisher.publish(topic, event)
        except Exception as exc:  # the broker's failure is reported, not raised
            return done, exc
    return len(items), None


def _items(rows: Sequence[sa.Row[Any]]) -> list[tuple[str, CloudEvent]]:
    return [(str(r.topic), CloudEvent.model_validate_json(str(r.payload))) for r in rows]


@dataclass(frozen=True)
class Lag:
    pending: int
    oldest_age_seconds: float


class OutboxRelay(WakeableLoop):
    """`notify()` is called after a commit that wrote outbox rows."""

    task_name = "outbox-relay"

    def __init__(
        self,
        engine: AsyncEngine,
        publisher: Publisher,
        *,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        breaker: CircuitBreaker | None = None,
        retention: timedelta = timedelta(days=1),
    ) -> None:
        super().__init__()
        self._engine = engine
        self._publisher = publisher
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.breaker = breaker or CircuitBreaker()
        self.retention = retention
        self._last_purge = 0.0
        self.published_total = 0

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            if not self.breaker.allows():
                await self._sleep(self.breaker.wait_time())
                continue
            try:
                published = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: try again on the next wake-up
                log.exception("outbox relay pass failed")
                published = 0
            await self._maybe_purge()
            if published < self.batch_size or not self.breaker.allows():
                await self._sleep(self.poll_interval)

    async def run_once(self) -> int:
        """Publish one batch; return how many events were delivered."""
        if self._engine.dialect.name == "postgresql":
            async with self._engine.begin() as conn:
                rows = (await conn.execute(_CLAIM_PG, {"limit": self.batch_size})).all()
                if not rows:
                    return 0
                delivered, error = await publish_in_order(
                    self._publisher, _items(rows), [str(r.payload) for r in rows]
                )
                await self._record(conn, rows, delivered, error)
            return delivered
        # SQLite (one process): no transaction is held while publishing, so the
        # consumers this relay is waiting for can write meanwhile.
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(outbox_table.c.id, outbox_table.c.topic, outbox_table.c.payload)
                    .where(outbox_table.c.sent_at.is_(None))
                    .order_by(outbox_table.c.id)
                    .limit(self.batch_size)
                )
            ).all()
        if not rows:
            return 0
        delivered, error = await publish_in_order(
            self._publisher, _items(rows), [str(r.payload) for r in rows]
        )
        async with self._engine.begin() as conn:
            await self._record(conn, rows, delivered, error)
        return delivered

    async def _record(
        self,
        conn: AsyncConnection,
        rows: Sequence[sa.Row[Any]],
        delivered: int,
        error: Exception | None,
    ) -> None:
        if delivered:
            await conn.execute(
                outbox_table.update()
                .where(outbox_table.c.id.in_([r.id for r in rows[:delivered]]))
                .values(sent_at=datetime.now(UTC))
            )
            self.published_total += delivered
        if error is None:
            self.breaker.succeeded()
            return
        failed = rows[delivered]
        await conn.execute(
            outbox_table.update()
            .where(outbox_table.c.id == failed.id)
            .values(attempts=outbox_table.c.attempts + 1, last_error=str(error)[:1000])
        )
        self.breaker.failed()
        log.warning(
            "publishing outbox row %s failed (%s); breaker %s", failed.id, error, self.breaker.state
        )

    async def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_purge < 60:
            return
        self._last_purge = time.monotonic()
        async with self._engine.begin() as conn:
            await conn.execute(
                outbox_table.delete().where(
                    outbox_table.c.sent_at < datetime.now(UTC) - self.retention
                )
            )

    async def lag(self) -> Lag:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(outbox_table.c.created_at)).where(
                        outbox_table.c.sent_at.is_(None)
                    )
                )
            ).one()
        pending, oldest = int(row[0]), row[1]
        if oldest is None:
            return Lag(pending, 0.0)
        if isinstance(oldest, str):
            oldest = datetime.fromisoformat(oldest)
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return Lag(pending, max(0.0, (datetime.now(UTC) - oldest).total_seconds()))
