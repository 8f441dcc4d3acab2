"""Trace context carried by events (W3C Trace Context in CloudEvents).

An event carries the trace it belongs to in the `traceparent` (and, when
present, `tracestate`) extension attributes of the CloudEvents distributed
tracing extension. The context is written when the event is added to the
outbox, so it is the span of the request (or of the handler) that caused the
change; the relay's publish span continues it, and each consumer's handling
span is its child. Only the OpenTelemetry API is used here: without an SDK
configured every span is a no-op.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from events.cloudevents import CloudEvent

__all__ = [
    "consumer_span",
    "end_publish_span",
    "event_context",
    "handling_event_id",
    "publish_span",
    "recording",
    "with_trace",
]

# The id of the event being handled, for log lines written meanwhile.
handling_event_id: ContextVar[str | None] = ContextVar("handling_event_id", default=None)
_PROPAGATOR = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("todo.events")
TRACE_FIELDS = ("traceparent", "tracestate")


def recording() -> bool:
    """Whether spans are recorded (an OpenTelemetry SDK is installed): without
    one every span is a no-op and publishing leaves each event as it is."""
    if isinstance(_tracer, trace.NoOpTracer):
        return False
    return not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )


def with_trace(event: CloudEvent, context: otel_context.Context | None = None) -> CloudEvent:
    """The event carrying the trace of `context` (the current one by default).

    Outside any span the event is returned unchanged, so a trace it already
    carries (a dead-lettered copy, a re-published event) is kept; so is an
    event that carries this very trace already."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    if "traceparent" not in carrier:
        return event
    extra_now = event.model_extra or {}
    if all(extra_now.get(k) == carrier.get(k) for k in TRACE_FIELDS):
        return event  # it carries this trace already (a span that records nothing)
    extra = {k: v for k, v in (event.model_extra or {}).items() if k not in TRACE_FIELDS}
    fields: dict[str, Any] = {**event.model_dump(exclude=set(event.model_extra or {})), **extra}
    return CloudEvent.model_validate({**fields, **carrier})


def event_context(event: CloudEvent) -> otel_context.Context:
    """The trace context an event carries (an empty one when it carries none)."""
    extra = event.model_extra or {}
    carrier = {k: str(extra[k]) for k in TRACE_FIELDS if extra.get(k)}
    return _PROPAGATOR.extract(carrier, context=otel_context.Context())


def _attributes(event: CloudEvent, topic: str) -> dict[str, str]:
    return {
        "messaging.system": "cloudevents",
        "messaging.destination.name": topic,
        "messaging.message.id": event.id,
        "cloudevents.event_id": event.id,
        "cloudevents.event_type": event.type,
    }


def publish_span(event: CloudEvent, topic: str) -> tuple[Span, CloudEvent]:
    """Start the relay's producer span for one event, a child of the trace the
    event carries; return it and the event carrying the span on to consumers.
    The caller ends the span."""
    span = _tracer.start_span(
        f"publish {topic}",
        context=event_context(event),
        kind=SpanKind.PRODUCER,
        attributes=_attributes(event, topic),
    )
    return span, with_trace(event, trace.set_span_in_context(span))


def end_publish_span(span: Span, error: Exception | None) -> None:
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()


@contextmanager
def consumer_span(event: CloudEvent, *, group: str, topic: str) -> Iterator[Span]:
    """The span of one consumer handling one event, current while it runs, so
    the events its handler emits carry the trace on."""
    attributes = {**_attributes(event, topic), "messaging.consumer.group.name": group}
    with _tracer.start_as_current_span(
        f"process {topic} {group}",
        context=event_context(event),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ) as span:
        token = handling_event_id.set(event.id)
        try:
            yield span
        finally:
            handling_event_id.reset(token)
