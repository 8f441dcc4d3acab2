"""DaprBus against a stand-in sidecar that speaks Dapr's HTTP contract.

The app under test is a FastAPI app mounting `DaprBus.router(subscriptions)`, served by uvicorn; the
stand-in (testsupport/dapr_standin.py) publishes through its broker and pushes deliveries to
that app the way daprd does. Both talk real HTTP on loopback ports.
"""

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from events.bus import PermanentFailure, Subscription
from events.cloudevents import CloudEvent, new_event
from events.dapr import (
    CLOUDEVENTS_JSON,
    UNREADABLE_RECORD,
    DaprBus,
    DaprError,
    DaprUnavailable,
    delivered_event,
    raw_record,
)
from events.topics import EventType, Topic
from testsupport.dapr_standin import DaprStandIn, LoopbackServer, Outcome
from testsupport.event_data import task_data

PUBSUB = "pubsub-kafka"


def task_event(user: str = "user-1", title: str = "Renew passport") -> CloudEvent:
    return new_event(
        EventType.TASK_CREATED,
        source="/task-api",
        user_id=user,
        subject="42",
        data={"task": task_data(title=title, priority="high")},
    )


@dataclass
class Wired:
    bus: DaprBus
    sidecar: DaprStandIn
    app: httpx.AsyncClient  # straight to the app, for what only daprd would call


@asynccontextmanager
async def wired(
    subscriptions: Sequence[Subscription], *, max_retries: int = 2
) -> AsyncIterator[Wired]:
    """Sidecar up, app up with the bus's router, then the sidecar reads /dapr/subscribe."""
    sidecar = DaprStandIn(pubsub_names=[PUBSUB], app_id="test-app", max_retries=max_retries)
    bus: DaprBus | None = None
    server: LoopbackServer | None = None
    try:
        await sidecar.start()
        bus = DaprBus(http_port=sidecar.http_port, pubsub_name=PUBSUB, timeout=2.0)
        await bus.start(subscriptions)
        app = FastAPI()
        app.include_router(bus.router(subscriptions))
        server = LoopbackServer(app)
        await server.start()
        await sidecar.connect_app(server.port)
        async with httpx.AsyncClient(base_url=server.url) as client:
            yield Wired(bus, sidecar, client)
    finally:
        # The sidecar first: it closes its connections to the app, which uvicorn waits for.
        await sidecar.stop()
        if server is not None:
            await server.stop()
        if bus is not None:
            await bus.stop()


class Recorder:
    """A handler that fails its first `failures` calls (or always, with `poison`)."""

    def __init__(self, failures: int = 0, *, poison: bool = False) -> None:
        self.failures = failures
        self.poison = poison
        self.calls = 0
        self.handled: list[CloudEvent] = []

    async def __call__(self, event: CloudEvent) -> None:
        self.calls += 1
        if self.poison:
            raise PermanentFailure("task 42 does not exist")
        if self.calls <= self.failures:
            raise ConnectionError("database restarting")
        self.handled.append(event)


async def test_publish_is_a_dapr_publish_request() -> None:
    async with wired([]) as w:
        event = task_event()
        await w.bus.publish(Topic.TASK_EVENTS, event)

        [request] = w.sidecar.publish_requests
        assert request.path == "/v1.0/publish/pubsub-kafka/task-events"
        assert request.query == "metadata.partitionKey=user-1"
        assert request.metadata == {"partitionKey": "user-1"}
        assert request.content_type == CLOUDEVENTS_JSON
        assert request.json() == event.to_json_dict()
        assert request.status_code == 204
        # Passed through, not wrapped: our attributes intact, Dapr's added, keyed by user.
        [message] = w.sidecar.broker["task-events"]
        assert message.key == "user-1"
        stored = message.json()
        assert {k: stored[k] for k in event.to_json_dict()} == event.to_json_dict()
        assert stored["pubsubname"] == PUBSUB
        assert stored["topic"] == "task-events"
        assert stored["traceparent"] == stored["traceid"]


async def test_dapr_subscribe_lists_one_route_per_subscription() -> None:
    subscriptions = [
        Subscription(topic=Topic.TASK_EVENTS, group="audit", handler=Recorder()),
        Subscription(topic=Topic.DLQ_EVENTS, group="audit", handler=Recorder()),
    ]
    async with wired(subscriptions) as w:
        response = await w.app.get("/dapr/subscribe")

        assert response.status_code == 200
        assert response.json() == [
            {
                "pubsubname": PUBSUB,
                "topic": "task-events",
                "route": "/events/task-events",
                "metadata": {},
                "deadLetterTopic": "dlq-events",
            },
            # A failing dlq-events consumer must not dead-letter onto dlq-events again, and
            # daprd must not have to parse a dead letter: it hands it over raw.
            {
                "pubsubname": PUBSUB,
                "topic": "dlq-events",
                "route": "/events/dlq-events",
                "metadata": {"rawPayload": "true"},
            },
        ]
        # Served by the SDK's FastAPI extension; the bus describes the same subscriptions.
        assert response.json() == w.bus.subscription_entries()
        assert [(s.topic, s.route, s.dead_letter_topic) for s in w.sidecar.subscriptions] == [
            ("task-events", "/events/task-events", "dlq-events"),
            ("dlq-events", "/events/dlq-events", ""),
        ]


async def test_a_delivered_event_reaches_the_handler_unchanged() -> None:
    handler = Recorder()
    async with wired([Subscription(Topic.TASK_EVENTS, "audit", handler)]) as w:
        event = task_event()
        await w.bus.publish(Topic.TASK_EVENTS, event)
        await w.sidecar.idle()

        assert handler.handled == [event]  # same id, type, data; Dapr's attributes stripped
        [delivery] = w.sidecar.deliveries
        assert delivery.route == "/events/task-events"
        assert delivery.headers["content-type"] == CLOUDEVENTS_JSON
        assert delivery.json()["pubsubname"] == PUBSUB
        assert (delivery.status_code, delivery.app_status) == (200, "SUCCESS")


async def test_a_transient_failure_is_retried_until_handled() -> None:
    handler = Recorder(failures=2)
    async with wired([Subscription(Topic.TASK_EVENTS, "audit", handler)]) as w:
        event = task_event()
        await w.bus.publish(Topic.TASK_EVENTS, event)
        await w.sidecar.idle()

        assert handler.calls == 3
        assert handler.handled == [event]
        assert [d.outcome for d in w.sidecar.deliveries] == [Outcome.SUCCESS]
        assert w.sidecar.dead_letters == []
        assert "dlq-events" not in w.sidecar.broker


async def test_a_poison_event_goes_to_our_dlq_with_its_reason() -> None:
    handler = Recorder(poison=True)
    async with wired([Subscription(Topic.TASK_EVENTS, "audit", handler)]) as w:
        event = task_event()
        await w.bus.publish(Topic.TASK_EVENTS, event)
        await w.sidecar.idle()

        assert handler.calls == 1  # PermanentFailure: no retries
        [dead] = w.sidecar.messages("dlq-events")
        assert dead["id"] == event.id
        assert dead["data"] == event.data
        assert dead["dlqreason"] == "PermanentFailure: task 42 does not exist"
        assert (dead["dlqconsumer"], dead["dlqtopic"]) == ("audit", "task-events")
        assert w.sidecar.publish_requests[-1].metadata == {"partitionKey": "user-1"}
        # Settled by us, so Dapr is told SUCCESS and dead-letters nothing itself.
        assert [d.app_status for d in w.sidecar.deliveries] == ["SUCCESS"]
        assert w.sidecar.dead_letters == []


async def test_a_malformed_delivery_is_dropped_and_dead_lettered_by_dapr() -> None:
    handler = Recorder()
    async with wired([Subscription(Topic.TASK_EVENTS, "audit", handler)]) as w:
        # Another producer publishes plain JSON: Dapr wraps it in an envelope of its own,
        # which is no event of ours (no userid).
        async with httpx.AsyncClient() as producer:
            answer = await producer.post(
                f"http://127.0.0.1:{w.sidecar.http_port}/v1.0/publish/{PUBSUB}/task-events",
                json={"hello": "world"},
            )
        assert answer.status_code == 204
        await w.sidecar.idle()

        assert handler.calls == 0
        assert [d.app_status for d in w.sidecar.deliveries] == ["DROP"]
        [dead] = w.sidecar.dead_letters
        assert dead.dead_letter_topic == "dlq-events"
        assert w.sidecar.messages("dlq-events")[0]["data"] == {"hello": "world"}
        # A body that is not JSON at all gets the same answer.
        garbage = await w.app.post(
            "/events/task-events",
            content=b"\xff not json",
            headers={"content-type": CLOUDEVENTS_JSON},
        )
        assert garbage.json() == {"status": "DROP"}


async def test_our_dead_letter_reaches_dlq_consumers_through_the_raw_subscription() -> None:
    poisoned, dlq = Recorder(poison=True), Recorder()
    async with wired(
        [Subscription(Topic.TASK_EVENTS, "recurring", poisoned),
         Subscription(Topic.DLQ_EVENTS, "audit", dlq)]
    ) as w:
        event = task_event()
        await w.bus.publish(Topic.TASK_EVENTS, event)
        await w.sidecar.idle()

        [dead] = dlq.handled
        assert dead.id == event.id
        assert dead.data == event.data
        assert dead.model_extra is not None
        assert dead.model_extra["dlqreason"] == "PermanentFailure: task 42 does not exist"
        # The dlq-events delivery was Dapr's envelope of the record, not the record.
        [raw] = [d for d in w.sidecar.deliveries if d.topic == "dlq-events"]
        assert raw.json()["datacontenttype"] == "application/octet-stream"
        assert raw_record(raw.body) == w.sidecar.broker["dlq-events"][0].body


async def test_a_record_that_is_not_json_reaches_dlq_consumers_as_unreadable() -> None:
    handler, dlq = Recorder(), Recorder()
    async with wired(
        [Subscription(Topic.TASK_EVENTS, "recurring", handler),
         Subscription(Topic.DLQ_EVENTS, "audit", dlq)]
    ) as w:
        # Another producer's bytes on task-events: daprd cannot parse them, never calls
        # the app and dead-letters them; without the raw dlq-events subscription it could
        # not parse them there either, and would redeliver them forever.
        async with httpx.AsyncClient() as producer:
            for _ in range(2):
                answer = await producer.post(
                    f"http://127.0.0.1:{w.sidecar.http_port}/v1.0/publish/{PUBSUB}/task-events",
                    params={"metadata.rawPayload": "true"},
                    content=b"\xff\x00 not json",
                )
                assert answer.status_code == 204
        await w.sidecar.idle()

        assert handler.calls == 0
        assert w.sidecar.undelivered == []
        first, second = dlq.handled
        # One record, one event id: idempotent consumers keep one.
        assert (first.id, first.data) == (second.id, second.data)
        assert first.type == UNREADABLE_RECORD
        assert first.data["record_base64"] == base64.b64encode(b"\xff\x00 not json").decode()
        assert first.data["record"].endswith(" not json")
        assert first.model_extra is not None
        assert first.model_extra["dlqtopic"] == "task-events"
        assert first.model_extra["dlqreason"].startswith("unreadable record: ")


async def test_an_app_answering_404_loses_the_message_without_a_dead_letter() -> None:
    """daprd reads 404 as a non-retriable error: the message is acknowledged, not retried
    and not dead-lettered (unlike DROP)."""
    sidecar = DaprStandIn(pubsub_names=[PUBSUB], max_retries=2)
    app = FastAPI()

    @app.get("/dapr/subscribe")
    async def subscribe() -> list[dict[str, str]]:
        return [{"pubsubname": PUBSUB, "topic": "task-events", "route": "/nowhere",
                 "deadLetterTopic": "dlq-events"}]

    server = LoopbackServer(app)
    await sidecar.start()
    try:
        await server.start()
        await sidecar.connect_app(server.port)
        bus = DaprBus(http_port=sidecar.http_port, pubsub_name=PUBSUB)
        await bus.publish(Topic.TASK_EVENTS, task_event())
        await bus.stop()
        await sidecar.idle()
    finally:
        await sidecar.stop()
        await server.stop()
    assert [(d.status_code, d.outcome) for d in sidecar.deliveries] == [(404, Outcome.DISCARD)]
    assert sidecar.dead_letters == []
    assert "dlq-events" not in sidecar.broker


def test_raw_record_unwraps_only_daprs_envelope() -> None:
    record = b'{"not": "an event of ours"}'
    envelope = {
        "id": "x", "specversion": "1.0", "datacontenttype": "application/octet-stream",
        "source": "Dapr", "type": "com.dapr.event.sent", "topic": "dlq-events",
        "pubsubname": PUBSUB, "data_base64": base64.b64encode(record).decode(),
    }
    assert raw_record(json.dumps(envelope).encode()) == record
    # Our own event (a declarative subscription without rawPayload) is the record itself.
    ours = json.dumps(task_event().to_json_dict()).encode()
    assert raw_record(ours) == ours
    assert raw_record(b"\xff garbage") == b"\xff garbage"


async def test_a_failed_dlq_publish_asks_dapr_to_redeliver() -> None:
    handler = Recorder(poison=True)
    async with wired([Subscription(Topic.TASK_EVENTS, "audit", handler)], max_retries=1) as w:
        w.sidecar.broken_topics.add("dlq-events")
        await w.bus.publish(Topic.TASK_EVENTS, task_event())
        await w.sidecar.idle()

        assert [d.app_status for d in w.sidecar.deliveries] == ["RETRY", "RETRY"]
        failed = [r for r in w.sidecar.publish_requests if r.topic == "dlq-events"]
        assert [r.status_code for r in failed] == [500, 500]
        # Dapr's own dead-letter publish fails too: the broker keeps the event unsettled.
        [kept] = w.sidecar.undelivered
        assert kept.message.topic == "task-events"


async def test_one_users_events_are_delivered_in_order() -> None:
    seen: list[tuple[str, str]] = []

    async def slow_for_alice_first(event: CloudEvent) -> None:
        if event.data["task"]["title"] == "a1":
            await asyncio.sleep(0.2)  # bob's events need not wait for this
        seen.append((event.userid, event.data["task"]["title"]))

    async with wired([Subscription(Topic.TASK_EVENTS, "audit", slow_for_alice_first)]) as w:
        for user, title in [
            ("alice", "a1"),
            ("bob", "b1"),
            ("alice", "a2"),
            ("bob", "b2"),
            ("alice", "a3"),
        ]:
            await w.bus.publish(Topic.TASK_EVENTS, task_event(user, title))
        await w.sidecar.idle()

        assert [t for u, t in seen if u == "alice"] == ["a1", "a2", "a3"]
        assert [t for u, t in seen if u == "bob"] == ["b1", "b2"]
        assert seen.index(("bob", "b1")) < seen.index(("alice", "a1"))


async def test_a_delivery_while_the_bus_is_stopped_is_retried_not_lost() -> None:
    async with wired([Subscription(Topic.TASK_EVENTS, "audit", Recorder())]) as w:
        await w.bus.stop()  # as before start(): the route is there, no consumer yet
        response = await w.app.post(
            "/events/task-events",
            content=task_event().model_dump_json(),
            headers={"content-type": CLOUDEVENTS_JSON},
        )
        assert response.json() == {"status": "RETRY"}


async def test_an_unknown_pubsub_is_dapr_error() -> None:
    async with wired([]) as w:
        bus = DaprBus(http_port=w.sidecar.http_port, pubsub_name="no-such-pubsub")
        try:
            with pytest.raises(DaprError) as raised:
                await bus.publish(Topic.TASK_EVENTS, task_event())
        finally:
            await bus.stop()

        assert raised.value.error_code == "ERR_PUBSUB_NOT_FOUND"
        assert raised.value.status_code == 404
        assert "no-such-pubsub" in raised.value.message


async def test_ping_reports_outbound_health() -> None:
    async with wired([]) as w:
        await w.bus.ping()
        w.sidecar.outbound_ready = False
        with pytest.raises(DaprUnavailable) as raised:
            await w.bus.ping()
        assert raised.value.error_code == "ERR_OUTBOUND_HEALTH_NOT_READY"


async def test_publish_and_ping_raise_when_the_sidecar_is_down() -> None:
    sidecar = DaprStandIn(pubsub_names=[PUBSUB])
    await sidecar.start()
    bus = DaprBus(http_port=sidecar.http_port, pubsub_name=PUBSUB, timeout=1.0)
    try:
        await bus.publish(Topic.TASK_EVENTS, task_event())  # up: accepted
        await sidecar.stop()
        async with asyncio.timeout(5):
            with pytest.raises(DaprUnavailable):
                await bus.publish(Topic.TASK_EVENTS, task_event())
            with pytest.raises(DaprUnavailable):
                await bus.ping()
    finally:
        await bus.stop()
        await sidecar.stop()  # a no-op once stopped


async def test_publish_gives_up_on_a_sidecar_that_never_answers() -> None:
    # Accepts connections and reads, never answers: only the timeout ends the request.
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)
        writer.close()

    listener = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    bus = DaprBus(http_port=port, pubsub_name=PUBSUB, timeout=0.3)
    try:
        async with asyncio.timeout(5):
            with pytest.raises(DaprUnavailable, match="ReadTimeout"):
                await bus.publish(Topic.TASK_EVENTS, task_event())
    finally:
        await bus.stop()
        listener.close()
        await listener.wait_closed()


async def test_two_groups_on_one_topic_share_one_route_and_both_receive() -> None:
    audit, recurring = Recorder(), Recorder(failures=1)
    async with wired(
        [
            Subscription(Topic.TASK_EVENTS, "audit", audit),
            Subscription(Topic.TASK_EVENTS, "recurring", recurring),
        ]
    ) as w:
        assert [e["route"] for e in w.bus.subscription_entries()] == ["/events/task-events"]
        event = task_event()
        await w.bus.publish(Topic.TASK_EVENTS, event)
        for _ in range(200):
            if audit.handled and recurring.handled:
                break
            await asyncio.sleep(0.02)
        assert audit.handled == [event]
        assert recurring.handled == [event]
    bus = DaprBus(http_port=3500, pubsub_name=PUBSUB)  # never contacted
    with pytest.raises(ValueError, match="twice"):
        await bus.start(
            [
                Subscription(Topic.TASK_EVENTS, "audit", Recorder()),
                Subscription(Topic.TASK_EVENTS, "audit", Recorder()),
            ]
        )
    await bus.stop()


def test_delivered_event_tolerates_dapr_attributes_and_base64_data() -> None:
    event = task_event()
    body = {key: value for key, value in event.to_json_dict().items() if key != "data"}
    body |= {
        "data_base64": base64.b64encode(json.dumps(event.data).encode()).decode(),
        "pubsubname": PUBSUB,
        "topic": "task-events",
        "traceid": "00-ab-cd-01",
        "traceparent": "00-ab-cd-01",
        "tracestate": "",
    }
    assert delivered_event(json.dumps(body).encode()) == event
    with pytest.raises(ValueError, match="JSON object"):
        delivered_event(b"[1, 2]")


async def test_publish_continues_the_events_trace_through_the_sidecar() -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = f"00-{trace_id}-00f067aa0ba902b7-01"
    async with wired([]) as w:
        event = task_event().model_copy(update={"traceparent": parent})
        await w.bus.publish(Topic.TASK_EVENTS, event)

        [message] = w.sidecar.broker["task-events"]
        # daprd starts a child span of the header's trace and writes it into the envelope.
        assert message.json()["traceparent"].split("-")[1] == trace_id
