"""The Kafka transport (EVENT_BUS=kafka): an aiokafka producer and consumer groups.

Publishing: one idempotent producer (acks=all). The key is the user id, so one
user's events land on one partition and keep their order; the value is the
structured-mode CloudEvent JSON. `publish` waits for the broker's ack for at
most `delivery_timeout` seconds, so an outage fails fast and the outbox relay's
circuit breaker can open. The producer itself is kept across an outage: it
retries what it holds until the broker is back, in order, so what the relay
re-publishes meanwhile arrives after it as duplicates (which consumers skip),
never ahead of it. Only a producer whose sender died is replaced. A single
`publish` (a dead letter) that timed out is remembered: published again, the
event waits for that send and is not sent twice when it landed.

Consuming: one consumer per `Subscription.group`. The partitions of one fetch
are handled side by side, each record by record in offset order (one user's
events are on one partition). Offsets are committed by hand, only past records
whose `Dispatcher.deliver` returned (the event was handled or is in
`dlq-events`), by a committer beside the handling: it commits whatever was
reached since its last commit, so handling never waits for a commit round
trip, and a stop commits all that was reached. A delivery that raised is
retried from the same offset after a backoff; a record is never skipped.
Delivery is at-least-once (a crash hands again what was handled since the last
commit); handlers are idempotent on the event id (events/processed.py).

Every process (`Subscription.every_process`): one consumer per process, outside
any group, reads every partition of those subscriptions' topics from the first
record stamped after the bus started (less `EVERY_PROCESS_MARGIN_S` for clocks
that differ between hosts), so what was published after the start arrives even
when the broker is reached later. It commits nothing and never joins a group, so
the broker's group coordinator (a rebalance, a coordinator that cannot load its
partition after a broker restart) never holds it up. A record it cannot parse,
or whose handler fails, is logged and passed: the groups that own the topic
dead-letter it.

Membership: a consumer handles nothing while it is not a member of its group,
from its start until the broker's group coordinator completes its join, and
again through every rebalance. `groups_joining()` says for how long each group
has been waiting (`/metrics` exposes it), and a wait longer than `join_patience`
is logged as a warning, repeated while it lasts. A consumer whose coordinator
never answers would otherwise wait in silence while its topics' events pile up.

Deployments sharing a broker: `group_prefix` names the deployment. Every record
carries it in the `todo-deployment` header and a consumer skips (and commits
past) records of another deployment. Offsets alone do not separate them: the
topics are shared, so without this one deployment's recurring-task service
would schedule and fire another's reminders into the shared `reminder-events`,
and that deployment would deliver each of them twice.
"""

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaClient,
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    IllegalStateError,
    TopicAlreadyExistsError,
    for_code,
)
from aiokafka.partitioner import murmur2  # type: ignore[import-untyped]

from events.bus import Subscription
from events.cloudevents import CloudEvent
from events.runtime import JITTER, Dispatcher, dead_letter_event
from events.schemas import validate_data
from events.stopping import cancel_and_wait
from events.topics import Topic

__all__ = [
    "CONSUMER_FETCH_OPTIONS",
    "TOPIC_PARTITIONS",
    "KafkaBus",
    "ensure_topics",
]

log = logging.getLogger(__name__)

# The product's topics and their partition counts (docs/reference.md, Events;
# scripts/kafka.sh makes the same).
TOPIC_PARTITIONS: dict[Topic, int] = {
    Topic.TASK_EVENTS: 6,
    Topic.REMINDER_EVENTS: 3,
    Topic.NOTIFICATION_EVENTS: 3,
    Topic.CHAT_EVENTS: 3,
    Topic.AUDIT_EVENTS: 3,
    Topic.DLQ_EVENTS: 1,
}

CONTENT_TYPE = "application/cloudevents+json"
DEPLOYMENT_HEADER = "todo-deployment"
# A consumer group commits its offsets at most this often: under load, committing
# whenever a record was handled was a broker round trip for nearly every record.
COMMIT_INTERVAL_S = 0.2
# The sends `publish` remembers whose acknowledgement did not come in time.
UNSETTLED_KEPT = 1000
# An every-process consumer starts at the records stamped this long before its bus
# started: the producers' clocks (on other hosts) may be a little behind this one's.
EVERY_PROCESS_MARGIN_S = 1.0
# The producer's guarantees (idempotent, every in-sync replica acknowledges) and its
# batch size: what one partition carries in one produce request. aiokafka's default of
# 16 KiB holds about 18 of our events, so a relay batch of 200 over a few partitions
# took many requests; with 256 KiB the relay's own CPU per event fell from 31-39 µs to
# 24-32 µs in the relay benchmark. That stays well under the broker's 1 MiB message
# limit and adds no wait: a batch goes as soon as the sender is free.
# What a consumer asks the broker for in each fetch: wait until this much is there,
# or this long. aiokafka's defaults (1 byte) answer a fetch as soon as any partition
# has a record, so under a steady stream a consumer sent a fetch for nearly every
# record, over all its partitions: a group on the audit's 16 partitions took
# 2.3 ms of CPU per record at 115 records/s, 26 % of a core with a handler that did
# nothing. Batched like this it took 0.2 ms. The price is latency when traffic is
# low: a record waits at most `fetch_max_wait_ms` for company.
CONSUMER_FETCH_OPTIONS: dict[str, Any] = {
    "fetch_min_bytes": 16 * 1024,
    "fetch_max_wait_ms": 100,
}
PRODUCER_OPTIONS: dict[str, Any] = {
    "enable_idempotence": True,
    "acks": "all",
    "max_batch_size": 256 * 1024,
}


def _event_of(record: Any) -> CloudEvent:
    """The record's CloudEvent; ValueError (pydantic's ValidationError is one) when
    it has none or it cannot be read."""
    if record.value is None:
        raise ValueError("no value (tombstone)")
    return CloudEvent.model_validate_json(record.value)


def _deployment(record: Any) -> str:
    """The deployment that published `record`; "" when it carries none."""
    for key, value in record.headers or ():
        if key == DEPLOYMENT_HEADER:
            return bytes(value or b"").decode("utf-8", "replace")
    return ""


@functools.lru_cache(maxsize=65536)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def cached_partitioner(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's default partitioner (Kafka's: murmur2 of the key modulo the
    partition count), with each key's hash remembered: murmur2 is pure Python
    in aiokafka and was a tenth of the relay's time, while the keys (user ids)
    repeat. The same key lands on the same partition as with the default."""
    if key is None:
        return random.choice(available or all_partitions)  # noqa: S311 - load spreading
    return all_partitions[_key_hash(key) % len(all_partitions)]


def _encode(event: CloudEvent) -> bytes:
    # Serialised by pydantic directly: half the cost of dumping a dict through json.
    return event.model_dump_json(exclude_none=True).encode()


def _broken(producer: Any) -> bool:
    """True once the producer's sender task has died (e.g. OutOfOrderSequenceNumber
    after a broker lost data): aiokafka then fails every later send."""
    task = producer._sender.sender_task
    return task is None or bool(task.done())


async def _started(
    make: Callable[[], Any],
    start: Callable[[Any], Awaitable[None]],
    backoff: "_Backoff",
    what: str,
) -> Any:
    """A consumer from `make` once `start` has run on it; a broker that is down (or a
    topic that is missing) only delays it, retried with `backoff`."""
    while True:
        consumer = make()
        try:
            await start(consumer)
            backoff.reset()
            return consumer
        except BaseException as exc:
            await consumer.stop()
            if not isinstance(exc, Exception):
                raise
            delay = backoff.next()
            log.warning("%s: cannot start (%s), retrying in %.1f s", what, exc, delay)
            await asyncio.sleep(delay)


def _first_error(futures: Sequence["asyncio.Future[Any]"]) -> Exception:
    for future in futures:
        if future.done() and not future.cancelled():
            error = future.exception()
            if isinstance(error, Exception):
                return error
    return RuntimeError("Kafka delivery failed")


def _retrieve_exception(future: "asyncio.Future[Any]") -> None:
    # A delivery future nobody awaits any more (its publish gave up) must not
    # log "exception was never retrieved" when it fails later.
    if not future.cancelled():
        future.exception()


class _Backoff:
    """Exponential with jitter, reset by a success: ~0.2 s … 5 s."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self._first = first
        self._cap = cap
        self._failures = 0

    def next(self) -> float:
        self._failures += 1
        base: float = min(self._cap, self._first * 2 ** (self._failures - 1))
        return base * JITTER.uniform(0.5, 1.0)

    def reset(self) -> None:
        self._failures = 0


class KafkaBus:
    """`Bus` and `BatchPublisher` over Kafka. Nothing connects before the first
    `publish`, `start` or `ping`."""

    every_process_subscriptions = True

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        delivery_timeout: float = 5.0,
        max_poll_records: int = 100,
        group_prefix: str = "",
        join_patience: float = 60.0,
    ) -> None:
        self._servers = bootstrap_servers
        # How long a consumer may wait to join its group before it is logged.
        self.join_patience = join_patience
        # Lets two deployments (or test runs) share a broker without sharing offsets.
        self.group_prefix = group_prefix
        self._client_id = client_id
        self._delivery_timeout = delivery_timeout
        self._max_poll_records = max_poll_records
        self._producer: Any = None
        self._producer_lock = asyncio.Lock()
        self._consumers: list[_GroupConsumer] = []
        self._readers: list[_EveryProcess] = []
        # `publish`es whose acknowledgement did not come in time, by what they sent.
        self._unsettled: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        self._headers = [
            ("content-type", CONTENT_TYPE.encode()),
            (DEPLOYMENT_HEADER, group_prefix.encode()),
        ]

    # --- publishing ---------------------------------------------------------

    async def publish(self, topic: str, event: CloudEvent) -> None:
        """One event, acknowledged or raised. An acknowledgement that did not come in
        time does not mean the record is lost: the producer goes on sending it. So the
        same event published again (a dead letter whose delivery is retried) waits for
        that send first, and is not sent a second time when it landed."""
        key = (topic, event.id, (event.model_extra or {}).get("dlqconsumer"))
        earlier = self._unsettled.pop(key, None)
        if earlier is not None and await self._landed(earlier, key):
            return
        sent: list[asyncio.Future[Any]] = []
        _, error = await self._send([(topic, event.userid, _encode(event))], sent)
        if error is None:
            return
        if sent and not sent[0].done():
            self._unsettled[key] = sent[0]
            while len(self._unsettled) > UNSETTLED_KEPT:
                del self._unsettled[next(iter(self._unsettled))]
        raise error

    async def _landed(self, earlier: "asyncio.Future[Any]", key: tuple[Any, ...]) -> bool:
        """Whether an earlier send of the same event was acknowledged, waiting for it as
        long as for a publish; raises while it is still under way."""
        if not earlier.done():
            await asyncio.wait({earlier}, timeout=self._delivery_timeout)
        if not earlier.done():
            self._unsettled[key] = earlier
            raise TimeoutError(
                f"Kafka at {self._servers} did not acknowledge within {self._delivery_timeout} s"
            )
        return not earlier.cancelled() and earlier.exception() is None

    async def publish_many(
        self, items: Sequence[tuple[str, CloudEvent]]
    ) -> tuple[int, Exception | None]:
        """Queue every item in order (the producer keeps the order within a
        partition), then wait for the acks; report the delivered prefix."""
        return await self.publish_encoded(items, [None] * len(items))

    async def publish_encoded(
        self, items: Sequence[tuple[str, CloudEvent]], encoded: Sequence[bytes | None]
    ) -> tuple[int, Exception | None]:
        """`publish_many`, sending `encoded[i]` as the i-th event's value where
        it is given: the event's JSON as the outbox stored it (the relay's
        case), so it is not serialised a second time."""
        return await self.publish_stored(
            [
                (topic, event.userid, _encode(event) if value is None else value)
                for (topic, event), value in zip(items, encoded, strict=True)
            ]
        )

    async def publish_stored(
        self, records: Sequence[tuple[str, str, bytes]]
    ) -> tuple[int, Exception | None]:
        """Publish (topic, user id, CloudEvent JSON) records in order as they are,
        keyed by the user id; report the delivered prefix. The relay's path when
        no trace is recorded: the outbox rows go out without being parsed.

        The records are packed into one record batch per partition, in order, and
        each batch is handed to the producer whole (`send_batch`): one future per
        partition instead of one per record, and none of `send`'s per-record
        metadata wait, size estimate and partition lookup. A record goes to the
        partition `send` would have chosen for its key (the same partitioner over
        the same partition list), so a user's single publishes and batches share
        a partition and stay in order. The producer sends a partition's batches
        one after the other, so order holds there too."""
        return await self._deliver(
            len(records),
            lambda producer, riding, handed: self._send_batches(producer, records, riding, handed),
        )

    async def _send_batches(
        self,
        producer: Any,
        records: Sequence[tuple[str, str, bytes]],
        riding: list["asyncio.Future[Any] | None"],
        handed: list["asyncio.Future[Any]"],
    ) -> None:
        """Pack `records` into a record batch per (topic, partition) and hand each
        to the producer: its future goes in `handed`, and in `riding` at each of its
        records' places. A batch that fills up is handed over at once and a new one
        started."""
        partitions: dict[str, list[int]] = {}
        open_batches: dict[tuple[str, int], tuple[Any, list[int]]] = {}

        async def hand_over(topic: str, partition: int, builder: Any, members: list[int]) -> None:
            future = await producer.send_batch(builder, topic, partition=partition)
            handed.append(future)
            for index in members:
                riding[index] = future

        for index, (topic, key, value) in enumerate(records):
            listed = partitions.get(topic)
            if listed is None:
                # The same list `send` hands the partitioner for this topic.
                listed = partitions[topic] = list(await producer.partitions_for(topic))
            key_bytes = key.encode()
            slot = (topic, cached_partitioner(key_bytes, listed, listed))
            builder, members = open_batches.get(slot) or (producer.create_batch(), [])
            if not self._append(builder, key_bytes, value):
                await hand_over(*slot, builder, members)  # full: it goes, a new one starts
                builder, members = producer.create_batch(), []
                self._append(builder, key_bytes, value)  # an empty batch takes any record
            members.append(index)
            open_batches[slot] = (builder, members)
        for (topic, partition), (builder, members) in open_batches.items():
            await hand_over(topic, partition, builder, members)

    def _append(self, builder: Any, key: bytes, value: bytes) -> bool:
        """Add a record to a batch being built; False when the batch is full."""
        added = builder.append(timestamp=None, key=key, value=value, headers=self._headers)
        return added is not None

    async def _send(
        self, records: Sequence[tuple[str, str, bytes]], futures: list["asyncio.Future[Any]"]
    ) -> tuple[int, Exception | None]:
        """Send records one by one (`send`), their delivery futures put in
        `futures`; report the delivered prefix. A single `publish`'s path."""

        async def one_by_one(
            producer: Any, riding: list["asyncio.Future[Any] | None"], handed: list[Any]
        ) -> None:
            for index, (topic, key, value) in enumerate(records):
                future = await producer.send(topic, value, key=key.encode(), headers=self._headers)
                handed.append(future)
                riding[index] = future

        return await self._deliver(len(records), one_by_one, futures)

    async def _deliver(
        self,
        count: int,
        queue: Callable[
            [Any, list["asyncio.Future[Any] | None"], list["asyncio.Future[Any]"]], Awaitable[None]
        ],
        handed: list["asyncio.Future[Any]"] | None = None,
    ) -> tuple[int, Exception | None]:
        """Hand `count` records to the producer with `queue(producer, riding,
        handed)`: it puts each future the producer gives it in `handed`, and at
        each record's place in `riding` the future that acknowledges that record.
        Wait for the acknowledgements (at most `delivery_timeout`) and report how
        many leading records were delivered and, if not all, the error that stopped
        them."""
        if not count:
            return 0, None
        try:
            producer = await self._ready_producer()
        except Exception as exc:  # the broker is unreachable: nothing was sent
            return 0, exc
        riding: list[asyncio.Future[Any] | None] = [None] * count  # None: never queued
        handed = [] if handed is None else handed
        error: Exception | None = None
        try:
            async with asyncio.timeout(self._delivery_timeout):
                try:
                    await queue(producer, riding, handed)
                except Exception as exc:  # e.g. an unknown topic: still await what was queued
                    error = exc
                if handed:
                    await asyncio.wait(handed, return_when=asyncio.FIRST_EXCEPTION)
        except TimeoutError:
            error = error or TimeoutError(
                f"Kafka at {self._servers} did not acknowledge within {self._delivery_timeout} s"
            )
        delivered = 0
        for future in riding:
            if (
                future is None
                or not future.done()
                or future.cancelled()
                or future.exception() is not None
            ):
                break
            delivered += 1
        if delivered < count:
            error = error or _first_error(handed)
            for future in handed:
                future.add_done_callback(_retrieve_exception)
        return delivered, error

    async def _ready_producer(self) -> Any:
        async with self._producer_lock:
            if self._producer is not None and _broken(self._producer):
                broken, self._producer = self._producer, None
                log.warning("the Kafka producer failed for good; starting a new one")
                await self._close_producer(broken)
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._servers,
                    client_id=f"{self._client_id}-producer",
                    **PRODUCER_OPTIONS,
                    request_timeout_ms=int(self._delivery_timeout * 1000),
                    partitioner=cached_partitioner,
                )
                try:
                    # start() waits for a producer id with no limit of its own.
                    async with asyncio.timeout(self._delivery_timeout):
                        await producer.start()
                except BaseException as exc:
                    await self._close_producer(producer)
                    if isinstance(exc, TimeoutError):
                        raise TimeoutError(
                            f"Kafka at {self._servers} did not answer within "
                            f"{self._delivery_timeout} s"
                        ) from exc
                    raise
                self._producer = producer
            return self._producer

    async def _close_producer(self, producer: Any) -> None:
        try:
            async with asyncio.timeout(self._delivery_timeout):
                await producer.stop()  # delivers what it holds, if the broker answers
        except Exception as exc:
            # The broker is away: what the producer still holds is dropped (its
            # publish calls have already failed, so the outbox still has it).
            # aiokafka's own flush task of stop() stays pending until the loop ends.
            log.warning("closing the Kafka producer failed (%r); dropping what it holds", exc)
            with contextlib.suppress(Exception):
                await producer._sender.close()
            await producer.client.close()

    # --- consuming ----------------------------------------------------------

    async def start(self, subscriptions: Sequence[Subscription]) -> None:
        by_group: dict[str, list[Subscription]] = defaultdict(list)
        every_process: list[Subscription] = []
        for subscription in subscriptions:
            if subscription.every_process:
                every_process.append(subscription)
            else:
                by_group[subscription.group].append(subscription)
        for group, members in by_group.items():
            consumer = _GroupConsumer(self, group, members)
            consumer.start()
            self._consumers.append(consumer)
        if every_process:
            reader = _EveryProcess(self, every_process)
            reader.start()
            self._readers.append(reader)

    async def stop(self) -> None:
        consumers, self._consumers = self._consumers, []
        readers, self._readers = self._readers, []
        await asyncio.gather(*(c.stop() for c in consumers), *(r.stop() for r in readers))
        async with self._producer_lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await self._close_producer(producer)

    def reading_every_process(self) -> bool:
        """Whether the every-process subscriptions' consumer has its positions (True
        when there are none): from then on it only waits for records."""
        return all(reader.reading.is_set() for reader in self._readers)

    def groups_joining(self) -> dict[str, float]:
        """Per consumer group of this process: the seconds its member has been waiting
        to join the group (at start-up or in a rebalance); 0 while it is a member."""
        return {c.group: c.membership.waiting() for c in self._consumers}

    async def ping(self) -> None:
        client = AIOKafkaClient(
            bootstrap_servers=self._servers,
            client_id=f"{self._client_id}-ping",
            request_timeout_ms=2000,
        )
        try:
            await client.bootstrap()  # raises KafkaConnectionError when no broker answers
        finally:
            await client.close()

    def _consumer_config(self, group: str) -> dict[str, Any]:
        return {
            "bootstrap_servers": self._servers,
            "client_id": f"{self._client_id}-{group}",
            "group_id": self.group_prefix + group,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_poll_records": self._max_poll_records,
            **CONSUMER_FETCH_OPTIONS,
        }


class _Membership(ConsumerRebalanceListener):  # type: ignore[misc]
    """When a group's member stopped being one (a join or rebalance under way), and the
    warnings while that lasts. aiokafka calls it as the member leaves its partitions
    for a join and once the join has given it its share (possibly none)."""

    def __init__(self, group: str, patience: float) -> None:
        self._group = group
        self._patience = patience
        self._since: float | None = time.monotonic()  # not a member before its first join
        self._warned: float | None = None  # the wait last logged

    def waiting(self) -> float:
        return 0.0 if self._since is None else time.monotonic() - self._since

    def on_partitions_revoked(self, revoked: Any) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def on_partitions_assigned(self, assigned: Any) -> None:
        waited, self._since = self.waiting(), None
        if self._warned is not None:
            log.warning(
                "consumer group %s: a member again after %.0f s, with %d partitions",
                self._group,
                waited,
                len(assigned),
            )
        self._warned = None

    def check(self) -> None:
        """Log a wait past the patience, then again each time it grows by as much."""
        waited = self.waiting()
        if waited < self._patience:
            return
        if self._warned is None or waited - self._warned >= self._patience:
            self._warned = waited
            log.warning(
                "consumer group %s: not a member for %.0f s; the broker's group coordinator "
                "has not completed its join, and the events of its topics wait meanwhile",
                self._group,
                waited,
            )


class _GroupConsumer:
    """One consumer group: fetches, delivers record by record, commits."""

    def __init__(self, bus: KafkaBus, group: str, subscriptions: list[Subscription]) -> None:
        self._bus = bus
        self._group = group
        self.group = bus.group_prefix + group
        self.membership = _Membership(self.group, bus.join_patience)
        self._dispatcher = Dispatcher(bus)
        self._by_topic: dict[str, list[Subscription]] = defaultdict(list)
        for subscription in subscriptions:
            self._by_topic[subscription.topic].append(subscription)
        self._backoff = _Backoff()
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._reached: dict[Any, int] = {}  # per partition: the next offset to commit
        self._progress = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"kafka-consumer-{self._group}")
        self._watch = asyncio.create_task(self._watching(), name=f"kafka-watch-{self._group}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        watch, self._watch = self._watch, None
        for running in (watch, task):
            if running is not None:
                await cancel_and_wait(running)

    async def _watching(self) -> None:
        while True:
            await asyncio.sleep(min(5.0, self._bus.join_patience / 4))
            self.membership.check()

    async def _run(self) -> None:
        consumer = await self._connect()
        committer = asyncio.create_task(
            self._committer(consumer), name=f"kafka-commit-{self._group}"
        )
        try:
            while True:
                try:
                    batch = await consumer.getmany(timeout_ms=1000)
                    await asyncio.gather(
                        *(self._process(consumer, tp, records) for tp, records in batch.items())
                    )
                except asyncio.CancelledError:
                    raise
                except Exception:  # broker down, rebalance: the loop must survive
                    delay = self._backoff.next()
                    log.warning(
                        "consumer group %s: fetch failed, retrying in %.1f s",
                        self._group,
                        delay,
                        exc_info=True,
                    )
                    await asyncio.sleep(delay)
        finally:
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await committer
            with contextlib.suppress(Exception):
                await self._commit(consumer)
            await consumer.stop()

    async def _committer(self, consumer: Any) -> None:
        while True:
            await self._progress.wait()
            self._progress.clear()
            await self._commit(consumer)
            await asyncio.sleep(COMMIT_INTERVAL_S)  # what is handled meanwhile goes together

    async def _commit(self, consumer: Any) -> None:
        """Commit each partition still assigned up to the offset its records reached."""
        reached, self._reached = self._reached, {}
        owned = consumer.assignment()
        offsets = {tp: offset for tp, offset in reached.items() if tp in owned}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except asyncio.CancelledError:
            self._keep(offsets)
            raise
        except Exception as exc:
            # Committed with the next progress; a redelivery after a crash is
            # absorbed by the idempotent handlers.
            self._keep(offsets)
            log.warning("consumer group %s: commit of %s failed: %s", self._group, offsets, exc)

    def _keep(self, offsets: dict[Any, int]) -> None:
        for tp, offset in offsets.items():
            self._reached[tp] = max(offset, self._reached.get(tp, offset))

    async def _connect(self) -> Any:
        """A started consumer; a broker that is down at start-up only delays it."""

        def make() -> Any:
            consumer = AIOKafkaConsumer(**self._bus._consumer_config(self._group))
            consumer.subscribe(list(self._by_topic), listener=self.membership)
            return consumer

        async def start(consumer: Any) -> None:
            await consumer.start()

        return await _started(make, start, self._backoff, f"consumer group {self._group}")

    async def _process(self, consumer: Any, tp: Any, records: list[Any]) -> None:
        """Deliver one partition's records in order, noting each as reached for the
        committer."""
        for record in records:
            if tp not in consumer.assignment():
                return  # revoked by a rebalance: its new owner starts from the commit
            try:
                if _deployment(record) == self._bus.group_prefix:
                    await self._deliver(record)
                # else: another deployment's record: not ours to handle, committed past
            except asyncio.CancelledError:
                raise
            except Exception:
                # Not acknowledged (e.g. the DLQ publish failed): fetch it again.
                with contextlib.suppress(IllegalStateError):
                    consumer.seek(tp, record.offset)
                delay = self._backoff.next()
                log.warning(
                    "consumer group %s: %s@%d not delivered, retrying in %.1f s",
                    self._group,
                    tp,
                    record.offset,
                    delay,
                    exc_info=True,
                )
                await asyncio.sleep(delay)
                return
            self._backoff.reset()
            self._reached[tp] = record.offset + 1
            self._progress.set()

    async def _deliver(self, record: Any) -> None:
        try:
            event = _event_of(record)
        except ValueError as exc:
            await self._dead_letter_unparseable(record, exc)
            return
        for subscription in self._by_topic[record.topic]:
            await self._dispatcher.deliver(subscription, event)

    async def _dead_letter_unparseable(self, record: Any, error: Exception) -> None:
        """A poison message: no retry can help. It goes to `dlq-events` as a
        CloudEvent carrying the raw value, its id stable across redeliveries."""
        raw = record.value or b""
        key = record.key.decode("utf-8", "replace") if record.key else ""
        where = f"{record.topic}/{record.partition}/{record.offset}"
        event = CloudEvent(
            id=f"kafka:{where}",
            source=f"/kafka/{record.topic}",
            type="dlq.unparseable",
            userid=key,
            data={
                "raw": raw.decode("utf-8", "replace")[:100_000],
                "partition": record.partition,
                "offset": record.offset,
            },
        )
        reason = f"unparseable CloudEvent at {where}: {type(error).__name__}: {error}"
        await self._bus.publish(
            Topic.DLQ_EVENTS,
            dead_letter_event(event, consumer=self._group, topic=record.topic, reason=reason),
        )
        log.error("consumer group %s dead-lettered %s", self._group, reason[:300])


class _EveryProcess:
    """The subscriptions every process takes: one consumer without a group, on
    every partition of their topics, from the first record stamped after the bus
    started. Each partition's records are handled in offset order, the partitions
    of one fetch side by side."""

    def __init__(self, bus: KafkaBus, subscriptions: list[Subscription]) -> None:
        self._bus = bus
        self._since_ms = int((time.time() - EVERY_PROCESS_MARGIN_S) * 1000)
        self._by_topic: dict[str, list[Subscription]] = defaultdict(list)
        for subscription in subscriptions:
            self._by_topic[subscription.topic].append(subscription)
        self._backoff = _Backoff()
        self._task: asyncio.Task[None] | None = None
        # Set once the consumer is positioned on every partition.
        self.reading = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kafka-every-process")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        consumer = await self._connect()
        try:
            self.reading.set()
            while True:
                try:
                    batch = await consumer.getmany(timeout_ms=1000)
                except asyncio.CancelledError:
                    raise
                except Exception:  # the broker is away: the positions are kept
                    delay = self._backoff.next()
                    log.warning(
                        "every-process consumer: fetch failed, retrying in %.1f s",
                        delay,
                        exc_info=True,
                    )
                    await asyncio.sleep(delay)
                    continue
                self._backoff.reset()
                await asyncio.gather(*(self._handle(records) for records in batch.values()))
        finally:
            await consumer.stop()

    async def _connect(self) -> Any:
        """A started consumer assigned every partition of the topics, each at its
        first record stamped since the start, or at its end when there is none."""
        topics = sorted(self._by_topic)

        def make() -> Any:
            return AIOKafkaConsumer(
                bootstrap_servers=self._bus._servers,
                client_id=f"{self._bus._client_id}-every-process",
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="latest",
                max_poll_records=self._bus._max_poll_records,
                **CONSUMER_FETCH_OPTIONS,
            )

        async def position(consumer: Any) -> None:
            partitions = await self._partitions(topics)
            await consumer.start()
            consumer.assign(partitions)
            # The ends first: a record appended after the search is past them.
            ends = await consumer.end_offsets(partitions)
            found = await consumer.offsets_for_times({p: self._since_ms for p in partitions})
            for partition in partitions:
                since = found.get(partition)
                consumer.seek(partition, ends[partition] if since is None else since.offset)

        what = f"every-process consumer of {', '.join(topics)}"
        return await _started(make, position, self._backoff, what)

    async def _partitions(self, topics: list[str]) -> list[Any]:
        """Every partition of `topics`, from the cluster's metadata."""
        client = AIOKafkaClient(
            bootstrap_servers=self._bus._servers,
            client_id=f"{self._bus._client_id}-every-process-metadata",
        )
        try:
            await client.bootstrap()
            cluster = await client.fetch_all_metadata()
        finally:
            await client.close()
        found = {topic: cluster.partitions_for_topic(topic) for topic in topics}
        missing = [topic for topic, partitions in found.items() if not partitions]
        if missing:
            raise LookupError(f"no such topics yet: {', '.join(missing)}")
        return [TopicPartition(t, n) for t, partitions in found.items() for n in sorted(partitions)]

    async def _handle(self, records: list[Any]) -> None:
        for record in records:
            if _deployment(record) != self._bus.group_prefix:
                continue  # another deployment's record
            try:
                event = _event_of(record)
                validate_data(event.type, event.data)
            except ValueError as exc:  # the schemas' errors are ValueErrors too
                where = f"{record.topic}/{record.partition}/{record.offset}"
                log.warning("every-process consumer: passed %s: %s", where, str(exc)[:300])
                continue
            for subscription in self._by_topic[record.topic]:
                try:
                    await subscription.handler(event)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception(
                        "every-process consumer: %s failed on %s %s",
                        subscription.group,
                        event.type,
                        event.id,
                    )


async def ensure_topics(
    bootstrap_servers: str, *, replication_factor: int = 1, request_timeout: float = 30.0
) -> list[str]:
    """Create the product's topics that are missing; return the ones created.
    Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="todo-ensure-topics",
        request_timeout_ms=int(request_timeout * 1000),
    )
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(str(topic), partitions, replication_factor)
            for topic, partitions in TOPIC_PARTITIONS.items()
            if topic not in existing
        ]
        if not missing:
            return []
        response = await admin.create_topics(missing, timeout_ms=int(request_timeout * 1000))
        created = []
        for name, code, *_ in response.topic_errors:
            if not code:
                created.append(str(name))
            elif for_code(code) is not TopicAlreadyExistsError:  # that one: a concurrent create
                raise for_code(code)(f"creating topic {name} failed")
        return created
    finally:
        await admin.close()
