"""Prometheus metrics of a service process (`GET /metrics`)."""

import os
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from events.relay import OutboxRelay
from events.runtime import EVENT_METRICS

# Product metrics: defined once per process (tests build many apps in one),
# rendered by every app's /metrics so each family is listed from startup.
PRODUCT_METRICS = CollectorRegistry()
# The process itself (CPU, resident memory, open fds, GC, Python version): what
# the service-health dashboard and the resource alerts read.
PROCESS_METRICS = CollectorRegistry()
ProcessCollector(registry=PROCESS_METRICS)
PlatformCollector(registry=PROCESS_METRICS)
GCCollector(registry=PROCESS_METRICS)
TASKS_CREATED = Counter("todo_tasks_created", "Tasks created", registry=PRODUCT_METRICS)
TASKS_COMPLETED = Counter("todo_tasks_completed", "Tasks completed", registry=PRODUCT_METRICS)
REMINDERS_FIRED = Counter("todo_reminders_fired", "Reminders fired", registry=PRODUCT_METRICS)
REMINDER_DELAY = Histogram(
    "todo_reminder_delay_seconds",
    "How late a reminder fired: fire time minus its due time",
    registry=PRODUCT_METRICS,
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
NOTIFICATIONS = Counter(
    "todo_notifications",
    "Notification deliveries by channel and outcome (delivered|failed)",
    ["channel", "outcome"],
    registry=PRODUCT_METRICS,
)
CHAT_TURNS = Counter(
    "todo_chat_turns", "Chat turns by mode (model|offline)", ["mode"], registry=PRODUCT_METRICS
)
CHAT_TOOL_CALLS = Counter(
    "todo_chat_tool_calls",
    "Tool calls made in chat turns by tool and outcome (ok|error)",
    ["tool", "outcome"],
    registry=PRODUCT_METRICS,
)
CHAT_MODEL_TOKENS = Counter(
    "todo_chat_model_tokens",
    "Model tokens used by chat turns, by kind (prompt|completion)",
    ["kind"],
    registry=PRODUCT_METRICS,
)


class OutboxCollector(Collector):
    """Outbox lag, read at scrape time: rows not yet published and the age
    of the oldest one, and how many this process's relay published."""

    def __init__(self, relay: OutboxRelay, lag: dict[str, float]) -> None:
        self._relay = relay
        self._lag = lag

    def collect(self) -> Any:
        pending = GaugeMetricFamily("todo_outbox_pending", "Outbox events not yet published")
        pending.add_metric([], self._lag.get("pending", 0.0))
        yield pending
        age = GaugeMetricFamily(
            "todo_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox event"
        )
        age.add_metric([], self._lag.get("age", 0.0))
        yield age
        published = CounterMetricFamily(
            "todo_outbox_published", "Events this process's relay published"
        )
        published.add_metric([], float(self._relay.published_total))
        yield published
        breaker = GaugeMetricFamily(
            "todo_outbox_breaker_open", "1 while the relay's circuit breaker is open"
        )
        breaker.add_metric([], 0.0 if self._relay.breaker.allows() else 1.0)
        yield breaker


class ConsumerGroupCollector(Collector):
    """How long each consumer group of this process has waited to join its group:
    0 while it is a member. Listed, without samples, on a bus with no groups of its
    own (memory, or Dapr, whose sidecar consumes)."""

    def __init__(self, joining: dict[str, float]) -> None:
        self._joining = joining

    def collect(self) -> Any:
        family = GaugeMetricFamily(
            "todo_consumer_group_joining_seconds",
            "Seconds this process's member of a consumer group has waited to join it "
            "(start-up or rebalance); 0 while it is a member",
            labels=["group"],
        )
        for group, seconds in sorted(self._joining.items()):
            family.add_metric([group], seconds)
        yield family


router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    container = request.app.state.container
    relay: OutboxRelay = container.relay
    current = await relay.lag()  # collectors are sync: read the lag before rendering
    registry = CollectorRegistry()
    registry.register(
        OutboxCollector(
            relay, {"pending": float(current.pending), "age": current.oldest_age_seconds}
        )
    )
    joining = getattr(container.bus, "groups_joining", None)
    registry.register(ConsumerGroupCollector(joining() if joining is not None else {}))
    body = b"".join(generate_latest(r) for r in (registry, *_counted(request), PROCESS_METRICS))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _counted(request: Request) -> tuple[CollectorRegistry, ...]:
    """The counters and histograms: this process's, or with several workers
    (`todo serve --workers`, PROMETHEUS_MULTIPROC_DIR set) every worker's summed
    from the files they write. The process metrics stay the answering worker's."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return EVENT_METRICS, PRODUCT_METRICS, request.app.state.metrics_registry
    summed = CollectorRegistry()
    MultiProcessCollector(summed, path=folder)  # type: ignore[no-untyped-call]
    return (summed,)
