"""Observability: every metric family on /metrics from startup, and one trace
from the HTTP request through the outbox, the bus and the consumers."""

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from events.bus import Subscription
from events.cloudevents import CloudEvent, new_event
from events.relay import publish_in_order
from events.topics import EventType, Topic
from events.tracing import with_trace
from services.bootstrap import Container
from tests.conftest import serve_app
from tests.integration.events.conftest import (  # the Kafka fixtures, used here too
    MakeBus,
    NewGroup,
    kafka_servers,  # noqa: F401
    make_kafka_bus,  # noqa: F401
    new_group,  # noqa: F401
)
from tests.integration.events.test_event_flow import eventually, register
from tests.tracing_support import span_exporter
from testsupport.event_data import task_updated

FAMILIES = [
    "todo_events_consumed_total",
    "todo_events_failed_total",
    "todo_events_dead_lettered_total",
    "todo_event_handling_seconds",
    "todo_reminders_fired_total",
    "todo_reminder_delay_seconds",
    "todo_notifications_total",
    "todo_chat_turns_total",
    "todo_chat_tool_calls_total",
    "todo_chat_model_tokens_total",
    "todo_tasks_created_total",
    "todo_tasks_completed_total",
    "todo_http_requests_total",
    "todo_outbox_pending",
]


def _ancestors(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[int]:
    by_id = {s.context.span_id: s for s in spans}
    chain: list[int] = []
    parent = span.parent
    while parent is not None:
        chain.append(parent.span_id)
        found = by_id.get(parent.span_id)
        parent = found.parent if found is not None else None
    return chain


def _attr(span: ReadableSpan, name: str) -> Any:
    return (span.attributes or {}).get(name)


async def test_every_metric_family_is_listed_from_startup(container: Container) -> None:
    async for server in serve_app(container):
        async with httpx.AsyncClient(base_url=server.url) as client:
            body = (await client.get("/metrics")).text
        types = {line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")}
        for family in FAMILIES:
            assert family in types or family.removesuffix("_total") in types, family


async def test_a_recurring_completion_is_one_trace_from_request_to_consumer(
    container: Container,
) -> None:
    exporter = span_exporter()
    async for server in serve_app(container):
        async with httpx.AsyncClient(base_url=server.url) as client:
            _, me = await register(client, server.url)
            created = await client.post(
                "/api/tasks",
                headers=me,
                json={
                    "title": "water the plants",
                    "due_at": "2030-01-01T09:00:00Z",
                    "recurrence_rule": "FREQ=DAILY;COUNT=3",
                },
            )
            task_id = created.json()["id"]
            done = await client.post(f"/api/tasks/{task_id}/complete", headers=me)
            assert done.status_code == 200, done.text

            def spans() -> list[ReadableSpan]:
                return [s for s in exporter.get_finished_spans() if _attr(s, "http.route")
                        or _attr(s, "cloudevents.event_type") == "task.completed"]

            def completion(task_id: str = task_id) -> ReadableSpan | None:
                # This test's request: the exporter also holds the spans of earlier tests.
                for span in spans():
                    if (
                        span.name == "POST /api/tasks/{task_id}/complete"
                        and span.kind == SpanKind.SERVER
                        and any(task_id in str(v) for v in (span.attributes or {}).values())
                    ):
                        return span
                return None

            def consumer() -> ReadableSpan | None:
                found = completion()
                if found is None:
                    return None
                for span in exporter.get_finished_spans():
                    if (
                        span.kind == SpanKind.CONSUMER
                        and span.context.trace_id == found.context.trace_id
                        and _attr(span, "messaging.consumer.group.name")
                        == "recurring-task-occurrences"
                        and _attr(span, "cloudevents.event_type") == "task.completed"
                        and span.name.startswith("process")
                    ):
                        return span
                return None

            await eventually(lambda: consumer() is not None)
    request = completion()
    assert request is not None
    completed = [
        s
        for s in spans()
        if s.kind == SpanKind.PRODUCER and s.context.trace_id == request.context.trace_id
    ]
    assert len(completed) == 1
    publish = completed[0]
    handling = consumer()
    assert handling is not None
    assert handling.context.trace_id == request.context.trace_id
    assert request.context.span_id in _ancestors(publish, exporter.get_finished_spans())
    assert handling.parent is not None
    assert handling.parent.span_id == publish.context.span_id
    # The next occurrence, emitted by the handler, carries the trace on.
    generated = [
        s
        for s in exporter.get_finished_spans()
        if _attr(s, "cloudevents.event_type") == "task.occurrence.generated"
        and s.kind == SpanKind.PRODUCER
        and s.context.trace_id == request.context.trace_id
    ]
    assert generated
    assert generated[0].parent is not None
    assert generated[0].parent.span_id == handling.context.span_id


async def test_the_trace_context_survives_the_kafka_transport(
    make_kafka_bus: MakeBus,  # noqa: F811
    new_group: NewGroup,  # noqa: F811
) -> None:
    exporter = span_exporter()
    topic = Topic.AUDIT_EVENTS
    source = f"/tests/observability/{uuid.uuid4().hex[:12]}"
    received: list[CloudEvent] = []

    async def handle(event: CloudEvent) -> None:
        if event.source == source:
            received.append(event)

    group = await new_group(topic)
    bus = make_kafka_bus()
    await bus.start([Subscription(topic, group, handle)])
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("request") as request:
        event = with_trace(
            new_event(EventType.TASK_UPDATED, source=source, user_id=uuid.uuid4(),
                      subject=None, data=task_updated())
        )
    delivered, error = await publish_in_order(bus, [(topic, event)])
    assert (delivered, error) == (1, None)
    await eventually(lambda: bool(received), timeout=30)

    def handling() -> ReadableSpan | None:
        for span in exporter.get_finished_spans():
            if span.kind == SpanKind.CONSUMER and _attr(span, "messaging.message.id") == event.id:
                return span
        return None

    await eventually(lambda: handling() is not None)
    [publish] = [
        s
        for s in exporter.get_finished_spans()
        if s.kind == SpanKind.PRODUCER and _attr(s, "messaging.message.id") == event.id
    ]
    span = handling()
    assert span is not None
    trace_id = request.get_span_context().trace_id
    assert publish.context.trace_id == span.context.trace_id == trace_id
    assert publish.parent is not None
    assert publish.parent.span_id == request.get_span_context().span_id
    assert span.parent is not None
    assert span.parent.span_id == publish.context.span_id
    assert (received[0].model_extra or {})["traceparent"].split("-")[1] == format(trace_id, "032x")


class _Receiver(BaseHTTPRequestHandler):
    requests: list[ExportTraceServiceRequest] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        type(self).requests.append(message)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []
    handler = type("Receiver", (_Receiver,), {"requests": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


SERVE_ONE_REQUEST = textwrap.dedent(
    """
    import sys
    import httpx
    from opentelemetry import trace
    from services.app import build_app
    from services.bootstrap import bootstrap

    async def main():
        container = bootstrap(database_url=sys.argv[1], service_name="task-api")
        app = build_app(container)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/metrics")).status_code == 200
        await container.aclose()
        trace.get_tracer_provider().shutdown()

    import asyncio
    asyncio.run(main())
    """
)


async def test_spans_are_exported_over_otlp_http_when_an_endpoint_is_set(
    otlp_receiver: tuple[str, list[ExportTraceServiceRequest]], database_url: str
) -> None:
    endpoint, received = otlp_receiver
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE_ONE_REQUEST, database_url, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    _out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    services = set()
    names = set()
    for request in received:
        for resource_spans in request.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    services.add(attribute.value.string_value)
            for scope in resource_spans.scope_spans:
                names |= {span.name for span in scope.spans}
    assert services == {"task-api"}
    assert "GET /metrics" in names
