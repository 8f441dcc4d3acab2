"""The in-process bus (EVENT_BUS=memory), the embedded default.

`publish` returns once every subscribed consumer group has handled the event
(or dead-lettered it), so the outbox relay marks a row sent only after its
effects happened: a crash before that re-publishes it (at-least-once), and
consumers are idempotent. Events are published one at a time in outbox
order, which keeps each user's events in order.
"""

import asyncio
from collections import defaultdict
from collections.abc import Sequence

from events.bus import Subscription
from events.cloudevents import CloudEvent
from events.runtime import Dispatcher


class MemoryBus:
    def __init__(self) -> None:
        self._subscriptions: dict[str, list[Subscription]] = defaultdict(list)
        self._dispatcher = Dispatcher(self)
        self.published: list[tuple[str, CloudEvent]] = []
        self._record = False

    def record(self) -> None:
        """Keep every published event in `published` (tests and inspection)."""
        self._record = True

    async def start(self, subscriptions: Sequence[Subscription]) -> None:
        for subscription in subscriptions:
            self._subscriptions[subscription.topic].append(subscription)

    async def stop(self) -> None:
        self._subscriptions.clear()

    async def ping(self) -> None:
        return None

    async def publish(self, topic: str, event: CloudEvent) -> None:
        if self._record:
            self.published.append((topic, event))
        subscribers = list(self._subscriptions.get(topic, ()))
        if subscribers:
            await asyncio.gather(*(self._dispatcher.deliver(s, event) for s in subscribers))
