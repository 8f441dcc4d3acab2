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

A window of batches is in flight at once (`window`): the relay claims the next
batch while the bus is still taking the ones before. That must not let one
user's events overtake each other, so how depends on the bus and the database:

- a bus inside this process (`in_process`: the memory bus, FIFO lanes per
  user), or SQLite (one process) with a bus that keeps the order events are
  submitted in (`keeps_submission_order`: Kafka's idempotent producer, per
  partition): batches are read after the last id in flight, with no
  transaction held, submitted in the order they were read, and each marked
  sent when the bus has it. On the memory bus a slow consumer group then
  delays the others only once the whole window waits on it;
- PostgreSQL with a bus that keeps the submission order: up to `window`
  batches are claimed in one transaction (its locks keep other replicas off
  these rows and users), each handed to the bus as soon as it is claimed; the
  transaction marks what the bus took and commits once all are done;
- PostgreSQL with any other broker: each batch is claimed in a transaction of
  its own, which holds its rows and its users' advisory locks until the batch
  is marked, so batches in flight never share a user (the rule between
  replicas too); at most half the connection pool is held this way.

Otherwise (SQLite with such a broker) one batch is in flight at a time. After
a failure no new batch is claimed until those in flight are done; then the
relay starts again from the oldest unsent row.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.breaker import CircuitBreaker
from events.bus import Publisher
from events.cloudevents import CloudEvent
from events.outbox import outbox_table
from events.tracing import end_publish_span, publish_span, recording
from events.wakeable import WakeableLoop

log = logging.getLogger(__name__)

_CLAIM_PG = sa.text(
    "SELECT id, topic, partition_key, payload FROM outbox "
    "WHERE sent_at IS NULL AND pg_try_advisory_xact_lock(hashtext(partition_key)) "
    "ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
# The next batch in the same transaction: its own locks are taken again (an
# advisory lock is re-entrant in its session), so only rows after it are new.
_CLAIM_PG_AFTER = sa.text(
    "SELECT id, topic, partition_key, payload FROM outbox "
    "WHERE sent_at IS NULL AND id > :after "
    "AND pg_try_advisory_xact_lock(hashtext(partition_key)) "
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


def _pool_size(engine: AsyncEngine) -> int:
    size = getattr(engine.pool, "size", None)
    return int(size()) if callable(size) else 1


def _items(rows: Sequence[sa.Row[Any]]) -> list[tuple[str, CloudEvent]]:
    return [(str(r.topic), CloudEvent.model_validate_json(str(r.payload))) for r in rows]


@dataclass(frozen=True)
class Lag:
    pending: int
    oldest_age_seconds: float


@dataclass(eq=False)
class _Batch:
    rows: Sequence[sa.Row[Any]]
    # PostgreSQL: the connection whose open transaction holds the claim.
    conn: AsyncConnection | None = None
    done: "asyncio.Task[int] | None" = field(default=None, repr=False)


class OutboxRelay(WakeableLoop):
    """`notify()` is called after a commit that wrote outbox rows."""

    task_name = "outbox-relay"

    def __init__(
        self,
        engine: AsyncEngine,
        publisher: Publisher,
        *,
        batch_size: int = 200,
        window: int = 1,
        poll_interval: float = 1.0,
        breaker: CircuitBreaker | None = None,
        retention: timedelta = timedelta(days=1),
    ) -> None:
        super().__init__()
        self._engine = engine
        self._publisher = publisher
        self.batch_size = batch_size
        in_process = bool(getattr(publisher, "in_process", False))
        ordered = in_process or bool(getattr(publisher, "keeps_submission_order", False))
        postgres = engine.dialect.name == "postgresql"
        # Batches read after the last id in flight, claimed in one shared
        # transaction, or each claimed under its own locks.
        self._shared = postgres and ordered and not in_process
        self._locking = postgres and not ordered
        self.window = max(1, window)
        if self._locking:
            self.window = min(self.window, max(1, _pool_size(engine) // 2))
        elif not ordered:
            self.window = 1
        self.poll_interval = poll_interval
        self.breaker = breaker or CircuitBreaker()
        self.retention = retention
        self._last_purge = 0.0
        self.published_total = 0
        self._in_flight: list[_Batch] = []
        self._after: int | None = None  # SQLite: the last id claimed by a batch in flight
        self._failed = False  # a batch in flight failed: claim nothing until all are done

    async def _run(self) -> None:
        if self._shared:
            await self._run_shared()
            return
        try:
            while True:
                self._wake.clear()
                caught_up = await self._fill()
                await self._maybe_purge()
                if self._in_flight:
                    await self._wait_for_any()
                    continue
                self._after, self._failed = None, False
                if not caught_up and self.breaker.allows():
                    continue
                wait = self.poll_interval if self.breaker.allows() else self.breaker.wait_time()
                await self._sleep(wait)
        finally:
            await self._abandon()

    async def _run_shared(self) -> None:
        while True:
            self._wake.clear()
            caught_up = True
            if self.breaker.allows():
                try:
                    caught_up = await self.run_window()
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database hiccup: try again on the next wake-up
                    log.exception("outbox relay pass failed")
            await self._maybe_purge()
            if not caught_up and self.breaker.allows():
                continue
            wait = self.poll_interval if self.breaker.allows() else self.breaker.wait_time()
            await self._sleep(wait)

    async def run_window(self) -> bool:
        """PostgreSQL with a bus that keeps the submission order: claim up to
        `window` batches in one transaction, handing each to the bus as soon as
        it is claimed and marking what the bus took of it as soon as it answers;
        commit once all are done. Whether the outbox had less than a full window
        to claim."""
        tasks: list[asyncio.Task[None]] = []
        caught_up = False
        async with self._engine.connect() as conn:
            await conn.begin()
            turn = asyncio.Lock()  # one statement at a time on the connection

            async def publish_and_mark(rows: Sequence[sa.Row[Any]]) -> None:
                delivered, error = await self._publish(rows)
                async with turn:
                    await self._record(conn, rows, delivered, error)

            try:
                after: int | None = None
                while len(tasks) < self.window:
                    async with turn:
                        if after is None:
                            claim = conn.execute(_CLAIM_PG, {"limit": self.batch_size})
                        else:
                            params = {"limit": self.batch_size, "after": after}
                            claim = conn.execute(_CLAIM_PG_AFTER, params)
                        rows = (await claim).all()
                    if rows:
                        after = int(rows[-1].id)
                        tasks.append(
                            asyncio.create_task(publish_and_mark(rows), name="outbox-relay-batch")
                        )
                    if len(rows) < self.batch_size:
                        caught_up = True
                        break
                for task in tasks:
                    await task
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            await conn.commit()
        return caught_up

    async def _fill(self) -> bool:
        """Claim and launch batches until the window is full; whether the
        outbox has nothing more to claim for now."""
        while len(self._in_flight) < self.window:
            if self._failed or not self.breaker.allows():
                return True
            try:
                batch = await self._claim(after=self._after)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: try again on the next wake-up
                log.exception("outbox relay pass failed")
                return True
            if batch is None:
                return True
            if self.window > 1:
                self._after = int(batch.rows[-1].id)
            # Tasks start in the order they are created, and publishing hands the
            # events to the bus before its first wait: batches are submitted in order.
            batch.done = asyncio.create_task(self._complete(batch), name="outbox-relay-batch")
            self._in_flight.append(batch)
            if len(batch.rows) < self.batch_size:
                return True
        return False

    async def _wait_for_any(self) -> None:
        """Until a batch in flight is done, or a commit or the poll says there may be more."""
        tasks = {b.done for b in self._in_flight if b.done is not None}
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait(
                {*tasks, woken}, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            woken.cancel()
        for batch in [b for b in self._in_flight if b.done is not None and b.done.done()]:
            self._in_flight.remove(batch)
            assert batch.done is not None
            if batch.done.cancelled() or batch.done.exception() is not None:
                self._failed = True
                if not batch.done.cancelled():
                    log.error("outbox relay batch failed", exc_info=batch.done.exception())

    async def _abandon(self) -> None:
        """Stopping: batches in flight are cancelled; their rows stay unsent."""
        tasks = [b.done for b in self._in_flight if b.done is not None]
        self._in_flight.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run_once(self) -> int:
        """Publish one batch; return how many events were delivered."""
        if self._shared:
            before = self.published_total
            saved, self.window = self.window, 1
            try:
                await self.run_window()
            finally:
                self.window = saved
            return self.published_total - before
        batch = await self._claim()
        if batch is None:
            return 0
        return await self._complete(batch)

    async def _claim(self, *, after: int | None = None) -> _Batch | None:
        """Claim the next batch: under locks on PostgreSQL with a broker, else
        the oldest unsent rows after `after`, the last id of a batch in flight."""
        if self._locking:
            conn = await self._engine.connect()
            try:
                await conn.begin()
                rows = (await conn.execute(_CLAIM_PG, {"limit": self.batch_size})).all()
            except BaseException:
                await conn.close()
                raise
            if not rows:
                await conn.close()
                return None
            return _Batch(rows, conn)
        # One process (SQLite, or the memory bus): no transaction is held while
        # publishing, so the consumers this relay is waiting for can write meanwhile.
        query = (
            sa.select(
                outbox_table.c.id,
                outbox_table.c.topic,
                outbox_table.c.partition_key,
                outbox_table.c.payload,
            )
            .where(outbox_table.c.sent_at.is_(None))
            .order_by(outbox_table.c.id)
            .limit(self.batch_size)
        )
        if after is not None:
            query = query.where(outbox_table.c.id > after)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return _Batch(rows) if rows else None

    async def _complete(self, batch: _Batch) -> int:
        """Publish a claimed batch and mark what the bus took; how many it took."""
        rows = batch.rows
        if batch.conn is not None:
            try:
                delivered, error = await self._publish(rows)
                await self._record(batch.conn, rows, delivered, error)
                await batch.conn.commit()
            finally:
                await batch.conn.close()  # rolls back what was not committed
        else:
            delivered, error = await self._publish(rows)
            async with self._engine.begin() as conn:
                await self._record(conn, rows, delivered, error)
        if error is not None:
            self._failed = True
        return delivered

    async def _publish(self, rows: Sequence[sa.Row[Any]]) -> tuple[int, Exception | None]:
        stored = getattr(self._publisher, "publish_stored", None)
        if stored is not None and not recording():
            # No span to record or carry on: the rows go out as stored, unparsed.
            result: tuple[int, Exception | None] = await stored(
                [(str(r.topic), str(r.partition_key), str(r.payload).encode()) for r in rows]
            )
            return result
        return await publish_in_order(self._publisher, _items(rows), [str(r.payload) for r in rows])

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
