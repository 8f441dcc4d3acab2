"""The ports every transport implements, and what a consumer is.

A consumer is an `async def handle(event)`; a `Subscription` names the topic
and the consumer group it belongs to. A `Bus` publishes events (keyed by the
user id, so one user's events keep their order) and drives subscriptions;
which transport does it — memory, Kafka or Dapr — only `events/` knows.
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


class Publisher(Protocol):
    async def publish(self, topic: str, event: CloudEvent) -> None:
        """Deliver to the broker (or raise); the key is `event.userid`."""


class Bus(Publisher, Protocol):
    async def start(self, subscriptions: Sequence[Subscription]) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None:
        """Raise when the bus cannot be reached (readiness)."""
