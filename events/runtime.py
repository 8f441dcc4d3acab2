"""Running a handler for one delivery: bounded retries, then the DLQ.

Every transport (memory, Kafka, Dapr) hands each delivery to `Dispatcher`,
and acknowledges it (commits the offset, answers SUCCESS) only when
`deliver` returns: the event was handled or is safely in `dlq-events`.
"""

import asyncio
import logging
import random
from collections.abc import Callable
from enum import StrEnum

from events.bus import PermanentFailure, Publisher, Subscription
from events.cloudevents import CloudEvent
from events.topics import Topic

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    HANDLED = "handled"
    DEAD_LETTERED = "dead-lettered"


def default_backoff(attempt: int) -> float:
    """Exponential with jitter: ~0.1 s, 0.2 s, 0.4 s … capped at 5 s."""
    base: float = min(5.0, 0.1 * 2 ** (attempt - 1))
    return base * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security


def dead_letter_event(event: CloudEvent, *, consumer: str, topic: str, reason: str) -> CloudEvent:
    """The event as it goes to `dlq-events`: the same id and data, plus why."""
    extra = {"dlqconsumer": consumer, "dlqtopic": topic, "dlqreason": reason[:1000]}
    return CloudEvent.model_validate({**event.model_dump(), **extra})


class Dispatcher:
    def __init__(
        self, dlq: Publisher, *, backoff: Callable[[int], float] = default_backoff
    ) -> None:
        self._dlq = dlq
        self._backoff = backoff

    async def deliver(self, subscription: Subscription, event: CloudEvent) -> Outcome:
        reason = "unknown"
        for attempt in range(1, subscription.max_attempts + 1):
            try:
                await subscription.handler(event)
                return Outcome.HANDLED
            except asyncio.CancelledError:
                raise
            except PermanentFailure as exc:
                reason = f"{type(exc).__name__}: {exc}"
                break
            except Exception as exc:  # a handler's failure must not stop the stream
                reason = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "%s failed on %s (attempt %d/%d): %s",
                    subscription.group,
                    event.id,
                    attempt,
                    subscription.max_attempts,
                    reason,
                )
                if attempt < subscription.max_attempts:
                    await asyncio.sleep(self._backoff(attempt))
        await self._dlq.publish(
            Topic.DLQ_EVENTS,
            dead_letter_event(
                event, consumer=subscription.group, topic=subscription.topic, reason=reason
            ),
        )
        log.error("%s dead-lettered %s: %s", subscription.group, event.id, reason)
        return Outcome.DEAD_LETTERED
