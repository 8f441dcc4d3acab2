"""The outbox relay: publishes committed events, in order, at least once.

It wakes when a unit of work commits (`notify`) and otherwise polls, so an
event leaves within milliseconds of its commit. The rows of the outbox's
queue (`outbox_pending`) are published in id order and marked sent (deleted
from the queue) only after the bus accepted them; a failure stops the
batch (later events of that user must not overtake it) and counts towards a
circuit breaker, so a broker outage only delays delivery. A bus with
`publish_many` (Kafka, the memory bus) takes the batch at once and reports
how many leading events it delivered.

On PostgreSQL several relays may run (one per replica): each claims queue rows with
`FOR UPDATE SKIP LOCKED` and takes a transaction-scoped advisory lock per
partition key, so no row is published twice at the same time and one user's
events are never published by two relays at once.

A window of batches (`window`) keeps the bus and the database busy at once,
without letting one user's events overtake each other:

- On a bus inside this process (`in_process`: the memory bus, FIFO lanes per
  user), up to `window` batches are in flight: each is read from the oldest
  unsent rows not in flight, with no transaction held, handed to the bus in the
  order they were read, and marked sent when every consumer group has it. A slow
  group then delays the others only once the whole window waits on it.
- On PostgreSQL with a broker, up to `window` batches are claimed in one
  transaction (its locks keep the other replicas' relays off these rows and
  users; it locks its users once, among the oldest unsent rows, when it
  begins), the next one while the broker is taking the one before; each is sent
  once the one before was acknowledged, and marked sent by the statement that
  claims the next but one (one statement per batch). A batch that fails ends
  the window: nothing after it is sent, so a broker that drops part of a batch
  cannot let a later event of the same user go first. The transaction commits
  when the window ends; if it cannot, nothing of the window is marked and its
  rows go out again, in order (consumers drop what they had by event id).
- On SQLite with a broker one batch is in flight at a time.

After a failure the relay claims nothing new until the batches in flight are
done; then it starts again from the oldest unsent row.
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
from events.outbox import outbox_table, pending_table
from events.tracing import end_publish_span, publish_span, recording
from events.wakeable import WakeableLoop

log = logging.getLogger(__name__)


# Marking rows sent on PostgreSQL: their queue rows deleted, the ids as one
# array, not one bound value each.
_MARK_SQL = "DELETE FROM outbox_pending WHERE id = ANY(:sent)"
_MARK_PG = sa.text(_MARK_SQL)

# A window's first claim takes its users: the advisory lock of each user among
# the oldest pending rows (`:scan` of them) is tried once, and the oldest rows of
# the users it locked are claimed. Tried row by row, a lock another relay let go
# in the middle of the scan would let this one take a user's later row and skip
# their earlier ones. The first row returned also carries the lock keys taken
# (`hashtext` of each user) and how many rows the scan found. The queue rows are
# locked; the events are read from the outbox by id.
_CLAIM_FIRST_PG = sa.text(
    "WITH head AS MATERIALIZED ("
    "  SELECT partition_key FROM outbox_pending ORDER BY id LIMIT :scan), "
    "users AS MATERIALIZED ("
    "  SELECT partition_key FROM (SELECT DISTINCT partition_key FROM head) AS candidates"
    "  WHERE pg_try_advisory_xact_lock(hashtext(partition_key))), "
    "claimed AS ("
    "  SELECT id FROM outbox_pending"
    "  WHERE partition_key IN (SELECT partition_key FROM users)"
    "  ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED), "
    "numbered AS ("
    "  SELECT o.id, o.topic, o.partition_key, o.payload, row_number() OVER (ORDER BY o.id) AS n"
    "  FROM claimed JOIN outbox AS o ON o.id = claimed.id) "
    "SELECT id, topic, partition_key, payload, "
    "CASE WHEN n = 1"
    " THEN (SELECT array_agg(hashtext(partition_key)) FROM users) END AS locks, "
    "CASE WHEN n = 1 THEN (SELECT count(*) FROM head) END AS scanned "
    "FROM numbered ORDER BY id"
)
# The window's next claims take the next rows of its users after the last row it
# claimed (`:after`): every pending row of theirs up to that one is already in
# the window, so their rows go in order, and no claim scans past the rows the
# window holds. The users are named by their lock keys (`:locks`): a few thousand
# integers compare and bind far faster than as many strings, and a user whose
# key equals a locked one is locked by the same lock, so no other relay can take
# their rows either. A row another relay marked sent meanwhile (deleted) drops
# out when it is locked (PostgreSQL re-reads a changed row for FOR UPDATE). The
# same statement marks sent the batch the broker took last (`:sent`, all at or
# before `:after`: the claim's snapshot does not see that delete).
_CLAIM_NEXT_PG = sa.text(
    f"WITH marked AS ({_MARK_SQL}), "  # noqa: S608 - constant text, values are bound
    "claimed AS ("
    "  SELECT id FROM outbox_pending"
    "  WHERE id > :after AND hashtext(partition_key) = ANY(:locks)"
    "  ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED) "
    "SELECT o.id, o.topic, o.partition_key, o.payload"
    " FROM claimed JOIN outbox AS o ON o.id = claimed.id ORDER BY o.id"
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


@dataclass(eq=False)
class _Batch:
    rows: Sequence[sa.Row[Any]]
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
        purge_chunk: int = 5000,
    ) -> None:
        super().__init__()
        self._engine = engine
        self._publisher = publisher
        self.batch_size = batch_size
        in_process = bool(getattr(publisher, "in_process", False))
        # Batches read besides those in flight, or claimed in one transaction.
        self._shared = engine.dialect.name == "postgresql" and not in_process
        self.window = max(1, window) if in_process or self._shared else 1
        self.poll_interval = poll_interval
        self.breaker = breaker or CircuitBreaker()
        self.retention = retention
        self.purge_chunk = max(1, purge_chunk)
        self._last_purge = 0.0
        self.published_total = 0
        self._in_flight: list[_Batch] = []
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
                self._failed = False
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
        """PostgreSQL with a broker: claim up to `window` batches in one
        transaction, each while the broker takes the one before; send each once
        the one before was acknowledged; mark a batch the broker took in the
        statement that claims the next but one; commit when the window ends. A
        failed batch ends it. The window relays the users whose lock it took
        when it began. Whether the relay has caught up: the window ran out of
        rows to claim and its scan saw every unsent row, or it claimed nothing."""
        caught_up = False
        async with self._engine.connect() as conn:
            await conn.begin()
            sending: asyncio.Task[tuple[int, Exception | None]] | None = None
            in_flight: Sequence[sa.Row[Any]] = ()
            taken: Sequence[sa.Row[Any]] = ()  # the broker has them; marked by the next claim
            try:
                scan = self.batch_size * self.window
                locks: list[int] = []
                after, full_scan = 0, False
                for number in range(self.window):
                    if number == 0:
                        first = {"limit": self.batch_size, "scan": scan}
                        rows = (await conn.execute(_CLAIM_FIRST_PG, first)).all()
                        if rows:
                            locks = [int(k) for k in rows[0].locks]
                            full_scan = int(rows[0].scanned) >= scan
                    else:
                        params = {
                            "limit": self.batch_size,
                            "after": after,
                            "locks": locks,
                            "sent": [r.id for r in taken],
                        }
                        rows = (await conn.execute(_CLAIM_NEXT_PG, params)).all()
                    self._marked(len(taken))
                    taken = ()
                    if sending is not None:
                        delivered, error = await sending
                        sending = None
                        if error is not None:
                            # what was claimed after a failed batch is not sent
                            await self._record(conn, in_flight, delivered, error)
                            break
                        taken = in_flight
                    if rows:
                        after = int(rows[-1].id)
                        in_flight = rows
                        sending = asyncio.create_task(
                            self._publish(rows), name="outbox-relay-batch"
                        )
                    if len(rows) < self.batch_size:
                        # The window's users have nothing more. Other users' rows
                        # wait for the next window, at once if the scan was full.
                        caught_up = not (after and full_scan)
                        break
                if taken:
                    await self._record(conn, taken, len(taken), None)
                if sending is not None:
                    delivered, error = await sending
                    sending = None
                    await self._record(conn, in_flight, delivered, error)
            except BaseException:
                if sending is not None:
                    sending.cancel()
                    await asyncio.gather(sending, return_exceptions=True)
                raise
            await conn.commit()
        return caught_up

    def _marked(self, delivered: int) -> None:
        """A batch the bus took whole is marked sent."""
        if delivered:
            self.published_total += delivered
            self.breaker.succeeded()

    async def _fill(self) -> bool:
        """Claim and launch batches until the window is full; whether the
        outbox has nothing more to claim for now."""
        while len(self._in_flight) < self.window:
            if self._failed or not self.breaker.allows():
                return True
            try:
                batch = await self._claim(besides=self._in_flight)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: try again on the next wake-up
                log.exception("outbox relay pass failed")
                return True
            if batch is None:
                return True
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

    async def _claim(self, *, besides: Sequence[_Batch] = ()) -> _Batch | None:
        """The oldest pending rows but those of the batches in flight (`besides`).
        One process (SQLite, or a bus inside it): no transaction is held while
        publishing, so the consumers this relay is waiting for can write meanwhile."""
        query = (
            sa.select(
                outbox_table.c.id,
                outbox_table.c.topic,
                outbox_table.c.partition_key,
                outbox_table.c.payload,
            )
            .select_from(pending_table.join(outbox_table, outbox_table.c.id == pending_table.c.id))
            .order_by(pending_table.c.id)
            .limit(self.batch_size)
        )
        in_flight = [r.id for batch in besides for r in batch.rows]
        if in_flight:
            query = query.where(pending_table.c.id.not_in(in_flight))
        async with self._engine.connect() as conn:
            rows: Sequence[Any] = (await conn.execute(query)).all()
        return _Batch(rows) if rows else None

    async def _complete(self, batch: _Batch) -> int:
        """Publish a batch and mark what the bus took; how many it took."""
        rows = batch.rows
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
            # Every claim's rows begin (id, topic, partition_key, payload); read by
            # position, as a Row's attribute lookup cost more than the rest per row.
            read: Sequence[Any] = rows
            result: tuple[int, Exception | None] = await stored(
                [(str(r[1]), str(r[2]), str(r[3]).encode()) for r in read]
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
            ids = [r.id for r in rows[:delivered]]
            if conn.dialect.name == "postgresql":
                await conn.execute(_MARK_PG, {"sent": ids})
            else:
                await conn.execute(pending_table.delete().where(pending_table.c.id.in_(ids)))
            self.published_total += delivered
        if error is None:
            self.breaker.succeeded()
            return
        failed = rows[delivered]
        await conn.execute(
            pending_table.update()
            .where(pending_table.c.id == failed.id)
            .values(attempts=pending_table.c.attempts + 1, last_error=str(error)[:1000])
        )
        self.breaker.failed()
        log.warning(
            "publishing outbox row %s failed (%s); breaker %s", failed.id, error, self.breaker.state
        )

    async def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_purge < 60:
            return
        self._last_purge = time.monotonic()
        await self.purge()

    async def purge(self) -> int:
        """Delete the events older than `retention` that are no longer queued (an
        event the broker has not taken is kept however old); how many went.

        Events are numbered as they are written, so the old ones are the
        outbox's first ids. The purge walks the ids from the first in chunks of
        `purge_chunk`, each in a transaction of its own, and stops at the first
        chunk that ends with an event inside the retention: its work follows
        what it deletes, not the size of the table, which holds a day of events
        (a scan of all of them every minute would grow with the traffic)."""
        cutoff = datetime.now(UTC) - self.retention
        queued = sa.select(pending_table.c.id).where(pending_table.c.id == outbox_table.c.id)
        after, removed = 0, 0
        while True:
            async with self._engine.begin() as conn:
                # The chunk's last event, found along the ids' index.
                end = (
                    await conn.execute(
                        sa.select(outbox_table.c.id, outbox_table.c.created_at)
                        .where(outbox_table.c.id > after)
                        .order_by(outbox_table.c.id)
                        .offset(self.purge_chunk - 1)
                        .limit(1)
                    )
                ).first()
                old = [
                    outbox_table.c.id > after,
                    outbox_table.c.created_at < cutoff,
                    ~queued.exists(),
                ]
                if end is not None:
                    old.append(outbox_table.c.id <= end.id)
                removed += (await conn.execute(outbox_table.delete().where(*old))).rowcount
            if end is None or end.created_at >= cutoff:
                return removed
            after = int(end.id)

    async def lag(self) -> Lag:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(outbox_table.c.created_at)).select_from(
                        pending_table.join(outbox_table, outbox_table.c.id == pending_table.c.id)
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
