"""Running a handler for one delivery: bounded retries, then the DLQ.

Every transport (memory, Kafka, Dapr) hands each delivery to `Dispatcher`,
and acknowledges it (commits the offset, answers SUCCESS) only when
`deliver` returns: the event was handled or is safely in `dlq-events`.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import exc as sa_exc

from events.bus import PermanentFailure, Publisher, Subscription
from events.cloudevents import CloudEvent
from events.schemas import InvalidEventData, validate_data
from events.topics import Topic
from events.tracing import consumer_span

log = logging.getLogger(__name__)

# Defined once per process and rendered by every app's /metrics; the
# `service` label is the subscription's consumer group.
EVENT_METRICS = CollectorRegistry()
CONSUMED = Counter(
    "todo_events_consumed",
    "Events a consumer handled successfully",
    ["service", "topic"],
    registry=EVENT_METRICS,
)
FAILED = Counter(
    "todo_events_failed",
    "Handler attempts that raised",
    ["service", "topic"],
    registry=EVENT_METRICS,
)
DEAD_LETTERED = Counter(
    "todo_events_dead_lettered",
    "Events sent to dlq-events after their retries",
    ["service", "topic"],
    registry=EVENT_METRICS,
)
HANDLING = Histogram(
    "todo_event_handling_seconds",
    "Time a consumer spent handling one event",
    ["service", "topic"],
    registry=EVENT_METRICS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class Outcome(StrEnum):
    HANDLED = "handled"
    DEAD_LETTERED = "dead-lettered"
    # A delivery from dlq-events that failed: logged and let go, never
    # dead-lettered onto the topic it came from.
    DROPPED = "dropped"


# Retry jitter draws from a generator of its own: the services' background
# loops never move the process-wide `random` state other code may rely on.
JITTER = random.Random()  # noqa: S311 - jitter, not security


def default_backoff(attempt: int) -> float:
    """Exponential with jitter: ~0.1 s, 0.2 s, 0.4 s … capped at 5 s."""
    base: float = min(5.0, 0.1 * 2 ** (min(attempt, 16) - 1))
    return base * JITTER.uniform(0.5, 1.5)


def is_outage(exc: BaseException) -> bool:
    """True when a handler failed because the infrastructure it needs (the
    database, a socket) is unreachable, not because of the event: connection
    refused or reset, timeouts, a database restarting or a pooled connection
    that died. Such an event is not poison; it must wait, not be dead-lettered."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | TimeoutError) and not isinstance(current, _LOCAL_OS):
            return True
        if isinstance(current, sa_exc.DisconnectionError):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if type(current).__name__ in _DRIVER_OUTAGES:
            return True
        current = current.__cause__ or current.__context__
    return False


# OS errors about local files, not about reaching a server.
_LOCAL_OS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)

# asyncpg's names for "the server is not there (yet)", matched by name so the
# events package does not need the driver installed.
_DRIVER_OUTAGES = frozenset(
    {
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "PostgresConnectionError",
        "ClientCannotConnectError",
    }
)


def dead_letter_event(event: CloudEvent, *, consumer: str, topic: str, reason: str) -> CloudEvent:
    """The event as it goes to `dlq-events`: the same id and data, plus why."""
    extra = {"dlqconsumer": consumer, "dlqtopic": topic, "dlqreason": reason[:1000]}
    return CloudEvent.model_validate({**event.model_dump(), **extra})


class Dispatcher:
    """Runs a subscription's handler for one delivery.

    A failure caused by the event (or an unknown one) counts toward the
    subscription's `max_attempts`, after which the event goes to `dlq-events`.
    A failure caused by an outage (`is_outage`: the database restarting, a
    refused connection) does not count: the delivery waits, retrying with
    capped backoff, for up to `outage_seconds`, so valid events are not
    dead-lettered while PostgreSQL restarts. Only after that does an outage
    count like any other failure.

    An event whose data does not match its type's schema (`events.schemas`),
    or whose type is unknown, never reaches the handler: it goes to
    `dlq-events` at once, the validation error as its `dlqreason`. Deliveries
    from `dlq-events` itself are handed over as they are.
    """

    def __init__(
        self,
        dlq: Publisher,
        *,
        backoff: Callable[[int], float] = default_backoff,
        outage_seconds: float = 120.0,
    ) -> None:
        self._dlq = dlq
        self._backoff = backoff
        self._outage_seconds = outage_seconds

    async def deliver(self, subscription: Subscription, event: CloudEvent) -> Outcome:
        labels = {"service": subscription.group, "topic": subscription.topic}
        if subscription.topic != Topic.DLQ_EVENTS:
            try:
                validate_data(event.type, event.data)
            except InvalidEventData as exc:
                FAILED.labels(**labels).inc()
                return await self._dead_letter(subscription, event, f"{type(exc).__name__}: {exc}")
        return await self._handle(subscription, event)

    async def _handle(self, subscription: Subscription, event: CloudEvent) -> Outcome:
        reason = "unknown"
        labels = {"service": subscription.group, "topic": subscription.topic}
        attempt = 0  # failures that count toward max_attempts
        tries = 0
        outage_since: float | None = None
        while True:
            tries += 1
            started = time.perf_counter()
            try:
                with consumer_span(event, group=subscription.group, topic=subscription.topic):
                    await subscription.handler(event)
                CONSUMED.labels(**labels).inc()
                return Outcome.HANDLED
            except asyncio.CancelledError:
                raise
            except PermanentFailure as exc:
                FAILED.labels(**labels).inc()
                reason = f"{type(exc).__name__}: {exc}"
                break
            except Exception as exc:  # a handler's failure must not stop the stream
                FAILED.labels(**labels).inc()
                reason = f"{type(exc).__name__}: {exc}"
                now = time.monotonic()
                if is_outage(exc) and (
                    outage_since is None or now - outage_since < self._outage_seconds
                ):
                    outage_since = outage_since if outage_since is not None else now
                    log.warning(
                        "%s waits to handle %s: infrastructure unavailable (%s); retrying",
                        subscription.group,
                        event.id,
                        reason,
                    )
                else:
                    attempt += 1
                    log.warning(
                        "%s failed on %s (attempt %d/%d): %s",
                        subscription.group,
                        event.id,
                        attempt,
                        subscription.max_attempts,
                        reason,
                    )
                    if attempt >= subscription.max_attempts:
                        break
            finally:
                HANDLING.labels(**labels).observe(time.perf_counter() - started)
            await asyncio.sleep(self._backoff(tries))
        return await self._dead_letter(subscription, event, reason)

    async def _dead_letter(
        self, subscription: Subscription, event: CloudEvent, reason: str
    ) -> Outcome:
        labels = {"service": subscription.group, "topic": subscription.topic}
        if subscription.topic == Topic.DLQ_EVENTS:
            log.error(
                "%s could not handle dead-lettered event %s; left in dlq-events: %s",
                subscription.group,
                event.id,
                reason,
            )
            return Outcome.DROPPED
        await self._dlq.publish(
            Topic.DLQ_EVENTS,
            dead_letter_event(
                event, consumer=subscription.group, topic=subscription.topic, reason=reason
            ),
        )
        DEAD_LETTERED.labels(**labels).inc()
        log.error("%s dead-lettered %s: %s", subscription.group, event.id, reason)
        return Outcome.DEAD_LETTERED
