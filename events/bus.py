"""The ports every transport implements, and what a consumer is.

A consumer is an `async def handle(event)`; a `Subscription` names the topic
and the consumer group it belongs to. A `Bus` publishes events (keyed by the
user id, so one user's events keep their order) and drives subscriptions;
which transport does it — memory, Kafka or Dapr — only `events/` knows.

A subscription `every_process` is outside any group: each process that holds it
gets every event published while it runs, and nothing from before it started;
nothing is committed, redelivered after a restart or dead-lettered. It is for a
live view whose readers catch up another way. Only a bus whose
`every_process_subscriptions` is true takes one; the others refuse it.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from events.cloudevents import CloudEvent

Handler = Callable[[CloudEvent], Awaitable[None]]


class PermanentFailure(Exception):
    """Raised by a handler for an event it can never process (malformed,
    refers to nothing): the event goes to the DLQ without further retries."""


@dataclass(frozen=True)
class Subscription:
    topic: str
    group: str
    handler: Handler
    # Deliveries tried before the event is dead-lettered.
    max_attempts: int = 5
    # Every process gets every event, outside the group (see the module's docstring).
    every_process: bool = False


class Publisher(Protocol):
    async def publish(self, topic: str, event: CloudEvent) -> None:
        """Deliver to the broker (or raise); the key is `event.userid`."""


class Bus(Publisher, Protocol):
    # Whether `start` takes subscriptions with `every_process`.
    every_process_subscriptions: bool

    async def start(self, subscriptions: Sequence[Subscription]) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None:
        """Raise when the bus cannot be reached (readiness)."""


def refuse_every_process(subscriptions: Sequence[Subscription], transport: str) -> None:
    """For a bus that cannot hand every process every event."""
    for subscription in subscriptions:
        if subscription.every_process:
            raise ValueError(
                f"{transport} cannot give every process every event of {subscription.topic!r} "
                f"(group {subscription.group!r}): subscribe in the group instead"
            )
