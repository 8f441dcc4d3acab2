"""The outbox relay: order, retries, circuit breaker, several replicas."""

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from events import CloudEvent, EventType, new_event, outbox_table, pending_table, write_outbox
from events.breaker import BreakerState, CircuitBreaker
from events.bus import Subscription
from events.memory import MemoryBus
from events.relay import OutboxRelay
from events.topics import Topic
from services.bootstrap import Container
from services.shared.db import create_engine
from tests.integration.events.test_event_flow import eventually
from testsupport.event_data import task_updated


class FlakyBroker:
    """Records what it accepted; refuses everything while `down`."""

    def __init__(self, delay: float = 0.0) -> None:
        self.down = False
        self.accepted: list[CloudEvent] = []
        self.refused = 0
        self.delay = delay
        self.in_flight: set[str] = set()
        self.overlaps = 0

    async def publish(self, topic: str, event: CloudEvent) -> None:
        if self.down:
            self.refused += 1
            raise ConnectionError("broker unreachable")
        if event.id in self.in_flight:
            self.overlaps += 1
        self.in_flight.add(event.id)
        await asyncio.sleep(self.delay)
        self.in_flight.discard(event.id)
        self.accepted.append(event)


async def seed(engine: AsyncEngine, users: Sequence[str], per_user: int, first: int = 0) -> None:
    events = [
        new_event(
            EventType.TASK_UPDATED,
            source="/test",
            user_id=user,
            subject=None,
            data=task_updated(n=n),
        )
        for n in range(first, first + per_user)
        for user in users
    ]
    async with engine.begin() as conn:
        await write_outbox(conn, events)


async def unsent(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(pending_table)
                )
            ).scalar_one()
        )


async def assert_each_once_in_order(engine: AsyncEngine, broker: "FlakyBroker", n: int) -> None:
    """All `n` rows sent, each published once and never two at a time, in order per user."""
    assert await unsent(engine) == 0
    ids = [e.id for e in broker.accepted]
    assert len(ids) == n
    assert len(set(ids)) == n
    assert broker.overlaps == 0
    assert_in_order(broker.accepted)


def assert_in_order(events: Sequence[CloudEvent]) -> None:
    by_user: dict[str, list[int]] = {}
    for event in events:
        by_user.setdefault(event.userid, []).append(event.data["n"])
    for numbers in by_user.values():
        assert numbers == sorted(numbers)


async def test_publishes_in_order_and_marks_rows_sent(container: Container) -> None:
    broker = FlakyBroker()
    await seed(container.engine, ["u1", "u2", "u3"], 50)
    relay = OutboxRelay(container.engine, broker, batch_size=40)
    while await relay.run_once():
        pass
    assert len(broker.accepted) == 150
    assert_in_order(broker.accepted)
    assert await unsent(container.engine) == 0
    assert (await relay.lag()).pending == 0


async def test_old_sent_events_are_pruned_but_a_pending_one_is_kept_however_old(
    container: Container,
) -> None:
    """The outbox keeps sent events for `retention` (a reconnecting feed
    resumes from them); an event the broker never took is kept, with its
    failed attempts counted, until it is sent."""
    engine = container.engine
    broker = FlakyBroker()
    relay = OutboxRelay(engine, broker, batch_size=10)
    await seed(engine, ["u1", "u2"], 5)
    while await relay.run_once():
        pass
    broker.down = True
    await seed(engine, ["u1"], 2, first=5)
    assert await relay.run_once() == 0
    async with engine.connect() as conn:
        failed = (await conn.execute(sa.select(pending_table).order_by(pending_table.c.id))).all()
    assert [(r.attempts, "broker unreachable" in str(r.last_error)) for r in failed] == [
        (1, True),
        (0, False),
    ]
    async with engine.begin() as conn:  # everything was written two days ago
        await conn.execute(
            outbox_table.update().values(created_at=datetime.now(UTC) - relay.retention * 2)
        )
    await relay._maybe_purge()
    async with engine.connect() as conn:
        kept = (await conn.execute(sa.select(outbox_table.c.id).order_by(outbox_table.c.id)))
        assert list(kept.scalars()) == [r.id for r in failed]
    broker.down = False
    while await relay.run_once():
        pass
    assert [e.data["n"] for e in broker.accepted[10:]] == [5, 6]
    assert await unsent(engine) == 0


async def test_the_purge_walks_the_old_events_in_chunks_and_stops_at_the_young_ones(
    container: Container,
) -> None:
    """Chunks of 4 over 23 events: the old sent ones go wherever they sit in a
    chunk, an old queued one stays, and a chunk ending inside the retention
    ends the walk (the events after it are young)."""
    engine = container.engine
    broker = FlakyBroker()
    relay = OutboxRelay(engine, broker, batch_size=100, purge_chunk=4)
    await seed(engine, ["u1"], 23)
    async with engine.connect() as conn:
        ids = list((await conn.execute(sa.select(outbox_table.c.id).order_by("id"))).scalars())
    stuck = ids[6]  # old, and the broker never took it
    async with engine.begin() as conn:
        await conn.execute(pending_table.delete().where(pending_table.c.id != stuck))
        old = datetime.now(UTC) - relay.retention * 2
        await conn.execute(
            outbox_table.update().where(outbox_table.c.id.in_(ids[:14])).values(created_at=old)
        )
        # An event in the young part with an old time (a writer's clock behind)
        # waits for the walk to reach it: the chunk before it ends young.
        await conn.execute(
            outbox_table.update().where(outbox_table.c.id == ids[20]).values(created_at=old)
        )
    assert await relay.purge() == 13
    async with engine.connect() as conn:
        kept = list((await conn.execute(sa.select(outbox_table.c.id).order_by("id"))).scalars())
    assert kept == [stuck, *ids[14:]]
    assert await relay.purge() == 0  # nothing more is old enough


async def test_an_outage_opens_the_breaker_and_nothing_is_lost(container: Container) -> None:
    broker = FlakyBroker()
    breaker = CircuitBreaker(threshold=5, cooldown=0.2)
    relay = OutboxRelay(
        container.engine, broker, batch_size=10, poll_interval=0.05, breaker=breaker
    )
    await relay.start()
    try:
        broker.down = True
        await seed(container.engine, ["u1", "u2"], 20)
        relay.notify()
        await eventually(lambda: breaker.state is not BreakerState.CLOSED)
        refused_when_open = broker.refused
        assert refused_when_open >= 5
        await asyncio.sleep(0.1)
        # While open, the relay does not hammer the broker.
        assert broker.refused <= refused_when_open + 1
        lag = await relay.lag()
        assert lag.pending == 40
        assert lag.oldest_age_seconds >= 0
        await seed(container.engine, ["u1"], 5, first=20)  # the outbox keeps growing meanwhile
        assert (await relay.lag()).pending == 45
        broker.down = False
        await eventually(lambda: len(broker.accepted) == 45, timeout=15)
        assert breaker.state is BreakerState.CLOSED
        # The broker takes the last batch a moment before the relay marks it sent.
        for _ in range(300):
            if await unsent(container.engine) == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        await relay.stop()
    assert await unsent(container.engine) == 0
    assert_in_order(broker.accepted)
    assert len({e.id for e in broker.accepted}) == 45


async def test_the_relay_wakes_on_commit_not_on_its_poll(
    alice: object, container: Container
) -> None:
    broker = FlakyBroker()
    relay = OutboxRelay(container.engine, broker, poll_interval=30)
    container.relay = relay
    sleeps: list[float] = []
    sleep = relay._sleep

    async def recorded_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await sleep(seconds)

    relay._sleep = recorded_sleep  # type: ignore[method-assign]
    await relay.start()
    try:
        # The relay's first pass found nothing and it sleeps its 30 s poll.
        await eventually(lambda: sleeps == [30], timeout=5)
        from tests.conftest import User

        assert isinstance(alice, User)
        await alice.add(title="now")
        await eventually(lambda: len(broker.accepted) == 1, timeout=5)
    finally:
        await relay.stop()


@pytest.fixture
async def pg_engines(postgres_migrated: str) -> list[AsyncEngine]:
    from tests.conftest import TABLES, _sql

    await _sql(postgres_migrated, f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    engines = [create_engine(postgres_migrated) for _ in range(3)]
    yield engines  # type: ignore[misc]
    for engine in engines:
        await engine.dispose()


async def test_several_relays_on_postgres_never_publish_a_row_twice(
    pg_engines: list[AsyncEngine],
) -> None:
    users = [str(uuid.uuid4()) for _ in range(20)]
    await seed(pg_engines[0], users, 25)
    broker = FlakyBroker(delay=0.001)
    relays = [OutboxRelay(e, broker, batch_size=30) for e in pg_engines]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.run_once():
            await asyncio.sleep(0)

    await asyncio.gather(*(drain(r) for r in relays), *(drain(r) for r in relays))
    await assert_each_once_in_order(pg_engines[0], broker, 500)


async def test_on_the_memory_bus_rows_are_marked_sent_only_once_every_group_handled_them(
    container: Container,
) -> None:
    """A slow group does not hold up a fast one, but the relay marks the
    batch sent only after the slow group handled it too: a crash meanwhile
    leaves the rows to be published again."""
    release = asyncio.Event()
    fast: list[CloudEvent] = []
    slow: list[CloudEvent] = []

    async def slow_handler(event: CloudEvent) -> None:
        await release.wait()
        slow.append(event)

    bus = MemoryBus()
    await bus.start(
        [
            Subscription(Topic.TASK_EVENTS, "fast", lambda e: _append(fast, e)),
            Subscription(Topic.TASK_EVENTS, "slow", slow_handler),
        ]
    )
    await seed(container.engine, ["u1", "u2", "u3"], 10)
    relay = OutboxRelay(container.engine, bus, batch_size=100)
    passing = asyncio.create_task(relay.run_once())
    try:
        await eventually(lambda: len(fast) == 30)
        assert_in_order(fast)
        assert not passing.done()
        assert await unsent(container.engine) == 30
        release.set()
        assert await passing == 30
        assert await unsent(container.engine) == 0
        assert_in_order(slow)
    finally:
        release.set()
        await bus.stop()


async def _append(into: list[CloudEvent], event: CloudEvent) -> None:
    into.append(event)


class BatchBroker(FlakyBroker):
    """A broker taking whole batches: it takes a batch when it is handed one and
    answers after `delay`, and counts how many batches it holds at once;
    `fail_once` names an event it refuses the first time (with what follows it
    in that batch)."""

    def __init__(self, delay: float = 0.0, fail_once: str | None = None) -> None:
        super().__init__(delay)
        self.fail_once = fail_once
        self.batches_at_once = 0
        self._holding = 0

    async def publish_many(
        self, items: Sequence[tuple[str, CloudEvent]]
    ) -> tuple[int, Exception | None]:
        delivered, error = len(items), None
        for index, (_, event) in enumerate(items):
            if event.id == self.fail_once:
                self.fail_once = None
                self.refused += 1
                delivered, error = index, ConnectionError("refused once")
                break
            if event.id in self.in_flight:
                self.overlaps += 1
            self.accepted.append(event)
        ids = {event.id for _, event in items[:delivered]}
        self.in_flight |= ids
        self._holding += 1
        self.batches_at_once = max(self.batches_at_once, self._holding)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self._holding -= 1
            self.in_flight -= ids
        return delivered, error


class InProcessBroker(BatchBroker):
    """As the memory bus: inside this process, keeping the order it is handed
    events in, so the relay keeps several batches in flight."""

    in_process = True


async def _drained(relay: OutboxRelay, engine: AsyncEngine, expected: int) -> None:
    await relay.start()
    try:
        relay.notify()
        for _ in range(600):
            if await unsent(engine) == 0 and relay.published_total >= expected:
                break
            await asyncio.sleep(0.05)
    finally:
        await relay.stop()


async def test_on_an_in_process_bus_several_batches_are_in_flight_and_each_user_stays_in_order(
    container: Container,
) -> None:
    """The memory bus keeps the order it is handed events in: the relay does not
    wait for one batch before it reads the next, on either database."""
    users = [str(uuid.uuid4()) for _ in range(12)]
    await seed(container.engine, users, 25)
    broker = InProcessBroker(delay=0.05)
    relay = OutboxRelay(container.engine, broker, batch_size=20, window=4, poll_interval=0.05)
    assert relay.window == 4
    await _drained(relay, container.engine, 300)
    assert await unsent(container.engine) == 0
    assert len(broker.accepted) == 300
    assert len({e.id for e in broker.accepted}) == 300
    assert broker.batches_at_once > 1
    assert_in_order(broker.accepted)


def first_arrivals(events: Sequence[CloudEvent]) -> list[CloudEvent]:
    seen: dict[str, CloudEvent] = {}
    for event in events:
        seen.setdefault(event.id, event)
    return list(seen.values())


async def test_on_postgres_a_broker_gets_one_batch_at_a_time_and_a_failure_ends_the_window(
    pg_engines: list[AsyncEngine],
) -> None:
    """With a broker the relay claims ahead in one transaction but sends a batch
    only once the one before was acknowledged. A broker that refuses part of a
    batch never sees a later event of the same user first: what follows the
    refused event, in its batch and after, comes once the refused one did."""
    engine = pg_engines[0]
    users = [str(uuid.uuid4()) for _ in range(6)]
    await seed(engine, users, 40)
    async with engine.connect() as conn:
        payloads = (
            (await conn.execute(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id)))
            .scalars()
            .all()
        )
    refused = CloudEvent.model_validate_json(payloads[45]).id  # in the window's third batch
    broker = BatchBroker(delay=0.01, fail_once=refused)
    relay = OutboxRelay(
        engine,
        broker,
        batch_size=20,
        window=4,
        poll_interval=0.05,
        breaker=CircuitBreaker(threshold=5, cooldown=0.05),
    )
    assert relay.window == 4
    await _drained(relay, engine, 240)
    assert broker.refused == 1
    assert broker.batches_at_once == 1
    assert await unsent(engine) == 0
    arrived = first_arrivals(broker.accepted)
    assert len(arrived) == 240
    assert_in_order(arrived)


async def test_several_relays_with_windows_never_publish_a_row_twice(
    pg_engines: list[AsyncEngine],
) -> None:
    """Each relay claims its window in one transaction: the others skip its rows
    and users until it commits."""
    users = [str(uuid.uuid4()) for _ in range(20)]
    await seed(pg_engines[0], users, 25)
    broker = BatchBroker(delay=0.002)
    relays = [OutboxRelay(e, broker, batch_size=30, window=3) for e in pg_engines]

    async def drain(relay: OutboxRelay) -> None:
        while await unsent(pg_engines[0]):
            await relay.run_window()

    await asyncio.gather(*(drain(r) for r in relays))
    await assert_each_once_in_order(pg_engines[0], broker, 500)


async def test_after_a_failed_batch_the_relay_starts_again_from_the_oldest_unsent_row(
    container: Container,
) -> None:
    users = [str(uuid.uuid4()) for _ in range(6)]
    await seed(container.engine, users, 20)
    async with container.engine.connect() as conn:
        ids = (
            (await conn.execute(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id)))
            .scalars()
            .all()
        )
    refused = CloudEvent.model_validate_json(ids[37]).id
    broker = InProcessBroker(delay=0.02, fail_once=refused)
    breaker = CircuitBreaker(threshold=5, cooldown=0.05)
    relay = OutboxRelay(
        container.engine, broker, batch_size=10, window=4, poll_interval=0.05, breaker=breaker
    )
    await _drained(relay, container.engine, 120)
    assert broker.refused == 1
    assert await unsent(container.engine) == 0
    # Everything arrived; what came after the refused event in its batch came again.
    assert {e.id for e in broker.accepted} >= {CloudEvent.model_validate_json(p).id for p in ids}
    firsts: dict[str, CloudEvent] = {}
    for event in broker.accepted:
        firsts.setdefault(event.id, event)
    assert refused in firsts


async def test_on_sqlite_with_a_broker_one_batch_is_in_flight(container: Container) -> None:
    relay = OutboxRelay(container.engine, FlakyBroker(), window=4)
    assert relay.window == (4 if container.engine.dialect.name == "postgresql" else 1)
    assert OutboxRelay(container.engine, InProcessBroker(), window=4).window == 4


async def test_a_window_never_lets_a_user_s_later_row_overtake_one_another_relay_left(
    pg_engines: list[AsyncEngine],
) -> None:
    """Another relay holds a user's lock (it claimed their oldest row) and then
    gives it up without sending it. A window claiming on meanwhile must start again
    from the oldest unsent row, not from after its own last one: that user's
    later row may not go out first."""
    engine = pg_engines[0]
    late, busy = str(uuid.uuid4()), str(uuid.uuid4())
    await seed(engine, [late], 1)  # id 1
    await seed(engine, [busy], 20)  # ids 2..21
    await seed(engine, [late], 1, first=1)  # id 22
    async with pg_engines[1].connect() as other:
        await other.begin()
        await other.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": late})

        class GivesUp(BatchBroker):
            async def publish_many(
                self, items: Sequence[tuple[str, CloudEvent]]
            ) -> tuple[int, Exception | None]:
                if other.in_transaction():
                    await other.rollback()  # the other relay gives the row up
                return await super().publish_many(items)

        broker = GivesUp()
        relay = OutboxRelay(engine, broker, batch_size=10, window=4)
        await relay.run_window()
    while await unsent(engine):
        await relay.run_window()
    assert len(first_arrivals(broker.accepted)) == 22
    assert_in_order(first_arrivals(broker.accepted))


async def test_on_postgres_a_batch_is_marked_sent_by_the_statement_claiming_a_later_one(
    pg_engines: list[AsyncEngine],
) -> None:
    """One statement per batch: three batches are four claims (the last finds
    nothing) and one DELETE of its own, for the last batch the broker took. The
    first claim also locks the window's users; the others do not scan for them."""
    engine = pg_engines[0]
    await seed(engine, [str(uuid.uuid4()) for _ in range(3)], 10)
    broker = BatchBroker()
    relay = OutboxRelay(engine, broker, batch_size=10, window=8)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split())[:40])

    sa.event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        assert await relay.run_window() is True
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", seen)
    claims = [s for s in statements if s.startswith("WITH")]
    marks = [s for s in statements if s.startswith("DELETE FROM outbox_pending")]
    assert (len(claims), len(marks)) == (4, 1), statements
    # The window's users are locked once, by its first claim.
    assert [c.startswith("WITH head AS") for c in claims] == [True, False, False, False], claims
    await assert_each_once_in_order(engine, broker, 30)
    assert relay.published_total == 30


async def test_on_postgres_a_marking_that_fails_rolls_the_window_back_and_nothing_is_lost(
    pg_engines: list[AsyncEngine],
) -> None:
    """The broker took the window, but the database failed to mark a batch:
    nothing of the window is marked, and the next pass sends it all again,
    in order (consumers drop what they already had by event id)."""
    engine = pg_engines[0]
    await seed(engine, [str(uuid.uuid4()) for _ in range(4)], 10)
    broker = BatchBroker()
    relay = OutboxRelay(engine, broker, batch_size=10, window=4)
    record = relay._record
    calls = 0

    async def failing_once(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionResetError("the database went away")
        await record(*args)

    relay._record = failing_once  # type: ignore[method-assign]
    with pytest.raises(ConnectionResetError):
        await relay.run_window()
    assert await unsent(engine) == 40
    while await unsent(engine):
        await relay.run_window()
    arrived = first_arrivals(broker.accepted)
    assert len(arrived) == 40
    assert_in_order(arrived)
    assert_in_order(broker.accepted[len(broker.accepted) - 40 :])


async def test_a_window_relays_the_users_it_locked_and_then_hands_over_at_once(
    pg_engines: list[AsyncEngine],
) -> None:
    """A window takes the users among the oldest unsent rows whose lock it gets,
    once, and relays only their rows. When they run out while the scan was full
    (another relay holds the other users), the relay is not caught up: the next
    window starts at once and takes the users beyond. When it can lock no one, it
    is caught up and publishes nothing."""
    engine = pg_engines[0]
    held, mine, beyond = (str(uuid.uuid4()) for _ in range(3))
    await seed(engine, [held], 15)  # ids 1..15
    await seed(engine, [mine], 5)  # ids 16..20
    await seed(engine, [beyond], 20)  # ids 21..40
    broker = BatchBroker()
    relay = OutboxRelay(engine, broker, batch_size=10, window=2)  # scans 20 rows
    async with pg_engines[1].connect() as other:
        await other.begin()
        await other.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": held})
        assert await relay.run_window() is False
        assert {e.userid for e in broker.accepted} == {mine}
        assert len(broker.accepted) == 5
        assert await relay.run_window() is False  # `beyond`, a full window of it
        assert [e.userid for e in broker.accepted[5:]] == [beyond] * 20

        await seed(engine, [held], 3, first=15)
        assert await relay.run_window() is True  # only `held` is left, and it is held
        assert len(broker.accepted) == 25
        await other.rollback()
    # Its 18 rows, fewer than a scan: the window takes them all and is caught up.
    assert await relay.run_window() is True
    await assert_each_once_in_order(engine, broker, 43)
