"""The in-process bus (EVENT_BUS=memory), the embedded default.

Every subscription (a consumer group on a topic) has its own lanes: a few
FIFO queues, each drained by one worker, and an event goes to the lane its
user id hashes to. So a group handles its events on its own, as fast as its
handler goes: a slow group delays no other group, and one user's slow event
delays only the users of its lane.

The guarantees (the same as before the lanes):

- At-least-once. `publish` and `publish_many` return once every subscribed
  group has handled each event (or dead-lettered it); only then does the
  outbox relay mark the rows sent. The events of a batch are handed to all
  groups at once and handled concurrently, but the batch is reported done
  only when all of it is, so a crash (or `stop`) loses nothing: the rows not
  yet marked are published again on restart, and consumers are idempotent.
  The cost of this choice: the relay's next batch waits for the slowest
  group to finish the current one (a batch, not an event, at a time).
- Per-user order per consumer. Events are queued in publish order (outbox
  order) and one user's events always take the same lane of a group, whose
  one worker handles them one after the other.
- Dead-lettering. Each delivery goes through `Dispatcher`: bounded retries,
  then `dlq-events`, published on this bus (to the groups of that topic)
  before the delivery counts as done.
"""

import asyncio
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from events.bus import Subscription, refuse_every_process
from events.cloudevents import CloudEvent
from events.runtime import Dispatcher
from events.stopping import cancel_and_wait

LANES = 4  # per subscription


class BusStopped(RuntimeError):
    """The bus stopped before the event was handled; it will be published again."""


@dataclass(slots=True)
class _Delivery:
    event: CloudEvent
    done: asyncio.Future[None]


class _Lanes:
    """One subscription's queues and their workers."""

    def __init__(self, subscription: Subscription, dispatcher: Dispatcher, lanes: int) -> None:
        self.subscription = subscription
        self._dispatcher = dispatcher
        self._queues: list[asyncio.Queue[_Delivery]] = [asyncio.Queue() for _ in range(lanes)]
        self._workers = [
            asyncio.create_task(self._work(queue), name=f"memory-bus-{subscription.group}-{n}")
            for n, queue in enumerate(self._queues)
        ]

    def put(self, event: CloudEvent) -> asyncio.Future[None]:
        lane = zlib.crc32(event.userid.encode()) % len(self._queues)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues[lane].put_nowait(_Delivery(event, done))
        return done

    async def _work(self, queue: asyncio.Queue[_Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._dispatcher.deliver(self.subscription, delivery.event)
            except asyncio.CancelledError:
                if not delivery.done.done():
                    delivery.done.set_exception(BusStopped("the memory bus stopped"))
                raise
            except Exception as exc:  # the DLQ could not take it: the publisher hears
                if not delivery.done.done():
                    delivery.done.set_exception(exc)
            else:
                if not delivery.done.done():
                    delivery.done.set_result(None)

    async def stop(self) -> None:
        await asyncio.gather(*(cancel_and_wait(worker) for worker in self._workers))
        for queue in self._queues:
            while not queue.empty():
                left = queue.get_nowait()
                if not left.done.done():
                    left.done.set_exception(BusStopped("the memory bus stopped"))


class MemoryBus:
    # Events are queued in the order they are submitted, one user's always to
    # the same FIFO lane, all inside this process: the relay may keep several
    # batches in flight without holding a transaction.
    in_process = True

    # One process: what other processes publish never reaches it.
    every_process_subscriptions = False

    def __init__(self, *, lanes: int = LANES) -> None:
        self._lanes = lanes
        self._subscriptions: dict[str, list[_Lanes]] = defaultdict(list)
        self._dispatcher = Dispatcher(self)
        self.published: list[tuple[str, CloudEvent]] = []
        self._record = False

    def record(self) -> None:
        """Keep every published event in `published` (tests and inspection)."""
        self._record = True

    async def start(self, subscriptions: Sequence[Subscription]) -> None:
        refuse_every_process(subscriptions, "the memory bus")
        for subscription in subscriptions:
            self._subscriptions[subscription.topic].append(
                _Lanes(subscription, self._dispatcher, self._lanes)
            )

    async def stop(self) -> None:
        running = [lanes for group in self._subscriptions.values() for lanes in group]
        self._subscriptions.clear()
        for lanes in running:
            await lanes.stop()

    async def ping(self) -> None:
        return None

    def _submit(self, topic: str, event: CloudEvent) -> list[asyncio.Future[None]]:
        if self._record:
            self.published.append((topic, event))
        return [lanes.put(event) for lanes in self._subscriptions.get(topic, ())]

    async def publish(self, topic: str, event: CloudEvent) -> None:
        """Return once every group subscribed to `topic` handled the event."""
        futures = self._submit(topic, event)
        try:
            for done in futures:
                await done
        except BaseException:
            _let_go([futures])
            raise

    async def publish_many(
        self, items: Sequence[tuple[str, CloudEvent]]
    ) -> tuple[int, Exception | None]:
        """Hand every event to its groups at once; return when all are
        handled, with how many leading events were and the first error."""
        pending = [self._submit(topic, event) for topic, event in items]
        for index, futures in enumerate(pending):
            for done in futures:
                try:
                    await done
                except asyncio.CancelledError:  # the relay is stopping: no one waits now
                    _let_go(pending[index:])
                    raise
                except Exception as exc:  # the relay records it and retries from here
                    _let_go(pending[index:])
                    return index, exc
        return len(items), None


def _let_go(pending: Sequence[list[asyncio.Future[None]]]) -> None:
    """No one waits for these any more (their events are published again)."""
    for futures in pending:
        for future in futures:
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: no "never retrieved" warning
