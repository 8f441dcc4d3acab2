"""DaprBus publishing through the Dapr SDK over gRPC to a real daprd (DAPR_GRPC_PORT set):
the event reaches a subscriber, in the trace it was published in, and Dapr's refusals and
a missing sidecar surface as DaprError and DaprUnavailable, as on the HTTP path."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from dapr.clients.exceptions import DaprGrpcError

from bench.dapr_latency import PUBSUB, Arrivals, BenchTopic, Sidecar, subscriber_app
from events.cloudevents import CloudEvent
from events.dapr import DaprBus, DaprError, DaprUnavailable
from tests.e2e.dapr.conftest import daprd_binary
from testsupport.ports import free_port


def task_event(**extensions: str) -> CloudEvent:
    task = str(uuid.uuid4())
    return CloudEvent.model_validate(
        {
            "id": str(uuid.uuid4()),
            "source": "/todo/task-api",
            "type": "task.created",
            "subject": task,
            "userid": str(uuid.uuid4()),
            "data": {"id": task, "title": "Renew passport"},
            **extensions,
        }
    )


@contextlib.asynccontextmanager
async def sidecar_with_subscriber(
    kafka: str, workdir: Path
) -> AsyncIterator[tuple[Sidecar, str, Arrivals]]:
    arrivals = Arrivals(keep=True)
    async with (
        BenchTopic(kafka, "sdk") as topic,
        subscriber_app(topic, arrivals) as app_port,
        Sidecar(daprd_binary(), workdir, kafka, app_port) as sidecar,
    ):
        yield sidecar, topic, arrivals


@pytest.mark.timeout(180)
async def test_publish_over_grpc_reaches_the_subscriber(kafka: str, tmp_path: Path) -> None:
    async with sidecar_with_subscriber(kafka, tmp_path) as (sidecar, topic, arrivals):
        bus = DaprBus(http_port=sidecar.http_port, grpc_port=sidecar.grpc_port, pubsub_name=PUBSUB)
        try:
            # The consumer group forms after daprd starts: publish until one arrives.
            async with asyncio.timeout(90):
                while True:
                    event = task_event()
                    arrival = arrivals.expect(event.id)
                    await bus.publish(topic, event)
                    try:
                        async with asyncio.timeout(2):
                            await arrival
                        break
                    except TimeoutError:
                        arrivals.forget(event.id)
            wrong = DaprBus(
                http_port=sidecar.http_port,
                grpc_port=sidecar.grpc_port,
                pubsub_name="no-such-pubsub",
            )
            with pytest.raises(DaprError) as refused:
                await wrong.publish(topic, task_event())
            await wrong.stop()
            # Over gRPC Dapr names its errors by their ErrorInfo reason.
            assert refused.value.error_code == "DAPR_PUBSUB_NOT_FOUND", refused.value
            assert not isinstance(refused.value, DaprUnavailable)
        finally:
            await bus.stop()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("path", ["grpc", "http"])
async def test_the_delivery_continues_the_trace_the_event_was_published_in(
    kafka: str, tmp_path: Path, path: str
) -> None:
    async with sidecar_with_subscriber(kafka, tmp_path) as (sidecar, topic, arrivals):
        grpc_port = sidecar.grpc_port if path == "grpc" else None
        bus = DaprBus(http_port=sidecar.http_port, grpc_port=grpc_port, pubsub_name=PUBSUB)
        try:
            async with asyncio.timeout(90):
                while True:  # until the consumer group has formed and one arrives
                    trace_id = uuid.uuid4().hex
                    event = task_event(traceparent=f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01")
                    arrival = arrivals.expect(event.id)
                    await bus.publish(topic, event)
                    try:
                        async with asyncio.timeout(2):
                            await arrival
                        break
                    except TimeoutError:
                        arrivals.forget(event.id)
        finally:
            await bus.stop()
    delivered = arrivals.delivered[event.id]
    # daprd names its own publish span, in the publisher's trace.
    assert delivered["traceparent"].split("-")[1] == trace_id, delivered


@pytest.mark.timeout(180)
async def test_a_sidecar_gone_after_start_is_unavailable_over_grpc(
    kafka: str, tmp_path: Path
) -> None:
    async with sidecar_with_subscriber(kafka, tmp_path) as (sidecar, topic, _):
        bus = DaprBus(
            http_port=sidecar.http_port,
            grpc_port=sidecar.grpc_port,
            pubsub_name=PUBSUB,
            timeout=3.0,
        )
        try:
            await bus.publish(topic, task_event())  # the SDK's client is open from here on
            await sidecar.__aexit__(None, None, None)  # daprd stops
            with pytest.raises(DaprUnavailable) as gone:
                await bus.publish(topic, task_event())
            # The gRPC call itself failed (no health check stands in front of it now).
            assert isinstance(gone.value.__cause__, (DaprGrpcError, TimeoutError)), gone.value
        finally:
            await bus.stop()


async def test_publish_over_grpc_without_a_sidecar_is_unavailable() -> None:
    bus = DaprBus(http_port=free_port(), grpc_port=free_port(), pubsub_name=PUBSUB, timeout=1.0)
    with pytest.raises(DaprUnavailable):
        await bus.publish("task-events", task_event())
    await bus.stop()
