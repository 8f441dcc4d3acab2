"""Prometheus metrics of a service process (`GET /metrics`)."""

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from events.relay import OutboxRelay


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


router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    relay: OutboxRelay = request.app.state.container.relay
    current = await relay.lag()  # collectors are sync: read the lag before rendering
    registry = CollectorRegistry()
    registry.register(
        OutboxCollector(
            relay, {"pending": float(current.pending), "age": current.oldest_age_seconds}
        )
    )
    http = generate_latest(request.app.state.metrics_registry)
    return Response(generate_latest(registry) + http, media_type=CONTENT_TYPE_LATEST)
