"""Trace context on events, the dispatcher's metrics, and what log lines carry."""

import json
import logging
import uuid

from opentelemetry import trace

from events.bus import Subscription
from events.cloudevents import CloudEvent, new_event
from events.memory import MemoryBus
from events.runtime import CONSUMED, DEAD_LETTERED, FAILED, Dispatcher
from events.topics import EventType, Topic
from events.tracing import consumer_span, event_context, with_trace
from services.shared.logs import JsonFormatter
from tests.tracing_support import span_exporter
from testsupport.event_data import task_updated


def an_event() -> CloudEvent:
    return new_event(
        EventType.TASK_UPDATED,
        source="/tests",
        user_id=uuid.uuid4(),
        subject=None,
        data=task_updated(),
    )


def test_an_event_outside_any_span_carries_no_trace() -> None:
    event = an_event()
    assert with_trace(event) == event
    assert not trace.get_current_span(event_context(event)).get_span_context().is_valid


def test_an_event_carries_the_current_trace_and_the_consumer_continues_it() -> None:
    exporter = span_exporter()
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("request") as request:
        event = with_trace(an_event())
    extra = event.model_extra or {}
    request_context = request.get_span_context()
    version, trace_id, span_id, _flags = extra["traceparent"].split("-")
    assert (version, trace_id, span_id) == (
        "00",
        f"{request_context.trace_id:032x}",
        f"{request_context.span_id:016x}",
    )
    copied = CloudEvent.model_validate_json(json.dumps(event.to_json_dict()))
    with consumer_span(copied, group="g", topic="task-events") as span:
        assert span.get_span_context().trace_id == request_context.trace_id
    [handled] = [
        s
        for s in exporter.get_finished_spans()
        if s.context.span_id == span.get_span_context().span_id
    ]
    assert handled.parent is not None
    assert handled.parent.span_id == request_context.span_id


async def test_the_dispatcher_counts_handled_failed_and_dead_lettered_events() -> None:
    group = f"group-{uuid.uuid4().hex[:8]}"
    labels = {"service": group, "topic": Topic.TASK_EVENTS.value}

    async def fails(event: CloudEvent) -> None:
        raise RuntimeError("no")

    async def works(event: CloudEvent) -> None:
        pass

    dispatcher = Dispatcher(MemoryBus(), backoff=lambda attempt: 0.0)
    await dispatcher.deliver(Subscription(Topic.TASK_EVENTS, group, works), an_event())
    await dispatcher.deliver(
        Subscription(Topic.TASK_EVENTS, group, fails, max_attempts=2), an_event()
    )
    assert CONSUMED.labels(**labels)._value.get() == 1
    assert FAILED.labels(**labels)._value.get() == 2
    assert DEAD_LETTERED.labels(**labels)._value.get() == 1


def _line(record: logging.LogRecord) -> dict[str, object]:
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_a_log_line_carries_the_trace_and_the_event_being_handled() -> None:
    span_exporter()
    record = logging.makeLogRecord({"msg": "handled", "levelname": "INFO"})
    assert "trace_id" not in _line(record)
    event = with_trace(an_event())
    with consumer_span(event, group="g", topic="task-events") as span:
        line = _line(record)
    context = span.get_span_context()
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert line["event_id"] == event.id


def test_passwords_tokens_and_keys_never_reach_a_log_line() -> None:
    secrets = {
        "password": "correct horse battery",
        "access_token": "eyJhbGciOi.secret.token",
        "api_key": "sk-live-123456",
        "webhook_secret": "whsec-abcdef",
        "Authorization": "Bearer abc.def.ghi",
    }
    record = logging.makeLogRecord({"msg": "login", "levelname": "INFO", **secrets})
    text = JsonFormatter().format(record)
    for value in secrets.values():
        assert value not in text
    assert json.loads(text)["password"] == "[redacted]"
