"""Events flow from the outbox through the in-process bus to consumers:
at least once, in order per user, idempotent, poison events dead-lettered."""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import websockets

from events import CloudEvent, Topic, pending_table
from events.bus import PermanentFailure, Subscription
from events.processed import claim_event
from services.bootstrap import Container
from tests.conftest import LiveServer


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def register(client: httpx.AsyncClient, base: str) -> tuple[str, dict[str, str]]:
    email = f"u-{uuid.uuid4().hex[:8]}@example.com"
    await client.post(f"{base}/api/auth/register", json={"email": email, "password": "pw-12345678"})
    login = await client.post(
        f"{base}/api/auth/login", json={"email": email, "password": "pw-12345678"}
    )
    token = login.json()["access_token"]
    me = await client.get(f"{base}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    return token, {"Authorization": f"Bearer {token}", "X-User": me.json()["id"]}


class Recorder:
    def __init__(self) -> None:
        self.events: list[CloudEvent] = []

    async def __call__(self, event: CloudEvent) -> None:
        self.events.append(event)

    def types(self) -> list[str]:
        return [e.type for e in self.events]


@pytest.fixture
def recorder(container: Container) -> Recorder:
    recorder = Recorder()
    container.extra_subscriptions.append(Subscription(Topic.TASK_EVENTS, "test-consumer", recorder))
    return recorder


async def test_a_change_through_the_api_reaches_a_consumer(
    recorder: Recorder, live: LiveServer
) -> None:
    async with httpx.AsyncClient() as client:
        _, headers = await register(client, live.url)
        created = await client.post(
            f"{live.url}/api/tasks", headers=headers, json={"title": "Pay rent"}
        )
        task_id = created.json()["id"]
        await eventually(lambda: "task.created" in recorder.types())
    event = recorder.events[0]
    assert event.data["task"]["id"] == task_id
    assert event.userid == headers["X-User"]
    # The relay marks the row sent once the bus has it, which may be just
    # after the consumer saw the event: wait for the outbox to drain.
    for _ in range(200):
        async with live.container.engine.connect() as conn:
            unsent = (
                await conn.execute(
                    sa.select(sa.func.count()).select_from(pending_table)
                )
            ).scalar_one()
        if unsent == 0:
            break
        await asyncio.sleep(0.05)
    assert unsent == 0


async def test_per_user_order_holds(recorder: Recorder, live: LiveServer) -> None:
    async with httpx.AsyncClient() as client:
        users = [await register(client, live.url) for _ in range(3)]

        async def edits(headers: dict[str, str]) -> None:
            task = (
                await client.post(f"{live.url}/api/tasks", headers=headers, json={"title": "v0"})
            ).json()
            for n in range(1, 15):
                await client.patch(
                    f"{live.url}/api/tasks/{task['id']}", headers=headers, json={"title": f"v{n}"}
                )

        await asyncio.gather(*(edits(h) for _, h in users))
        await eventually(lambda: len(recorder.events) == 45)
    for _, headers in users:
        versions = [
            e.data["task"]["version"] for e in recorder.events if e.userid == headers["X-User"]
        ]
        assert versions == list(range(1, 16))


async def test_a_poison_event_goes_to_the_dlq_and_the_stream_moves_on(
    container: Container, live: LiveServer
) -> None:
    handled: list[str] = []
    dead: list[CloudEvent] = []

    async def picky(event: CloudEvent) -> None:
        if event.data["task"]["title"] == "poison":
            raise PermanentFailure("cannot digest this task")
        handled.append(event.data["task"]["title"])

    async def dlq(event: CloudEvent) -> None:
        dead.append(event)

    container.extra_subscriptions.append(Subscription(Topic.TASK_EVENTS, "picky", picky))
    container.extra_subscriptions.append(Subscription(Topic.DLQ_EVENTS, "dlq-watch", dlq))
    await container.bus.start(container.extra_subscriptions[-2:])
    async with httpx.AsyncClient() as client:
        _, headers = await register(client, live.url)
        for title in ["first", "poison", "after"]:
            await client.post(f"{live.url}/api/tasks", headers=headers, json={"title": title})
        await eventually(lambda: handled == ["first", "after"] and len(dead) == 1)
    assert dead[0].data["task"]["title"] == "poison"
    extra = dead[0].model_extra or {}
    assert extra["dlqconsumer"] == "picky"
    assert "cannot digest" in extra["dlqreason"]


async def test_a_failing_handler_is_retried_then_succeeds(
    container: Container, live: LiveServer
) -> None:
    # A handler bug (not an outage) counts toward max_attempts: with three
    # attempts allowed, two failures are retried and the third try succeeds;
    # with two allowed, the same two failures dead-letter the event.
    attempts: dict[str, int] = {"flaky": 0, "flaky-short": 0}
    handled: list[str] = []
    dead: list[CloudEvent] = []

    def flaky(group: str) -> Callable[[CloudEvent], Awaitable[None]]:
        async def handle(event: CloudEvent) -> None:
            attempts[group] += 1
            if attempts[group] < 3:
                raise ValueError("a bug in the handler")
            handled.append(group)

        return handle

    async def dlq(event: CloudEvent) -> None:
        dead.append(event)

    subscriptions = [
        Subscription(Topic.TASK_EVENTS, "flaky", flaky("flaky"), max_attempts=3),
        Subscription(Topic.TASK_EVENTS, "flaky-short", flaky("flaky-short"), max_attempts=2),
        Subscription(Topic.DLQ_EVENTS, "dlq-watch", dlq),
    ]
    container.extra_subscriptions.extend(subscriptions)
    await container.bus.start(subscriptions)
    async with httpx.AsyncClient() as client:
        _, headers = await register(client, live.url)
        await client.post(f"{live.url}/api/tasks", headers=headers, json={"title": "x"})
        await eventually(lambda: handled == ["flaky"] and len(dead) == 1)
        assert attempts == {"flaky": 3, "flaky-short": 2}
        # A later event of the same user, handled at its first try: the consumer takes
        # them in order, so a redelivery of the first after its success would show here.
        await client.post(f"{live.url}/api/tasks", headers=headers, json={"title": "y"})
        await eventually(lambda: handled.count("flaky") == 2)
    assert attempts["flaky"] == 4
    extra = dead[0].model_extra or {}
    assert extra["dlqconsumer"] == "flaky-short"
    assert "ValueError" in extra["dlqreason"]


async def test_claim_event_applies_an_effect_once(container: Container) -> None:
    event_id = str(uuid.uuid4())
    results = []
    for _ in range(3):
        async with container.engine.begin() as conn:
            results.append(await claim_event(conn, "audit", event_id))
    assert results == [True, False, False]
    async with container.engine.begin() as conn:
        assert await claim_event(conn, "notification", event_id) is True

    async def failing_effect() -> None:
        async with container.engine.begin() as conn:
            await claim_event(conn, "rolled-back", event_id)
            raise RuntimeError("effect failed")

    with pytest.raises(RuntimeError):
        await failing_effect()
    async with container.engine.begin() as conn:
        assert await claim_event(conn, "rolled-back", event_id) is True


async def _receive(socket: Any, timeout: float) -> dict[str, Any] | None:
    try:
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
            if message["type"] != "ping":
                return dict(message)
    except TimeoutError:
        return None


async def test_two_sockets_of_a_user_both_see_a_change_and_others_see_nothing(
    live: LiveServer,
) -> None:
    async with httpx.AsyncClient() as client:
        alice_token, alice = await register(client, live.url)
        bob_token, _ = await register(client, live.url)
        async with (
            websockets.connect(f"{live.ws_url}?token={alice_token}") as one,
            websockets.connect(f"{live.ws_url}?token={alice_token}") as two,
            websockets.connect(f"{live.ws_url}?token={bob_token}") as bobs,
        ):
            await eventually(lambda: live.container.realtime.hub.count() == 3)
            created = (
                await client.post(
                    f"{live.url}/api/tasks", headers=alice, json={"title": "Seen everywhere"}
                )
            ).json()
            for socket in (one, two):
                message = await _receive(socket, 5)
                assert message is not None
                assert message["type"] == "task.created"
                assert message["data"]["task"]["id"] == created["id"]
                assert message["event_id"]
            assert await _receive(bobs, 0.5) is None
            await client.post(f"{live.url}/api/tasks/{created['id']}/complete", headers=alice)
            assert (await _receive(one, 5) or {}).get("type") == "task.completed"


async def test_socket_with_a_bad_token_is_refused(live: LiveServer) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(f"{live.ws_url}?token=nope"):
            pass


async def test_ping_and_pong(container: Container) -> None:
    container.settings = container.settings.model_copy(update={"ws_ping_seconds": 0.1})
    from tests.conftest import serve_app

    async for server in serve_app(container):
        async with httpx.AsyncClient() as client:
            token, _ = await register(client, server.url)
        async with websockets.connect(f"{server.ws_url}?token={token}") as socket:
            message = json.loads(await asyncio.wait_for(socket.recv(), 5))
            assert message == {"type": "ping"}
            await socket.send(json.dumps({"type": "pong"}))
            assert json.loads(await asyncio.wait_for(socket.recv(), 5)) == {"type": "ping"}


async def test_metrics_expose_the_outbox_lag(live: LiveServer) -> None:
    async with httpx.AsyncClient() as client:
        _, headers = await register(client, live.url)
        await client.post(f"{live.url}/api/tasks", headers=headers, json={"title": "x"})
        await eventually(lambda: live.container.relay.published_total >= 1)
        text = (await client.get(f"{live.url}/metrics")).text
        ready = (await client.get(f"{live.url}/readyz")).json()
    assert "todo_outbox_pending 0.0" in text
    assert "todo_outbox_published_total" in text
    assert "todo_outbox_breaker_open 0.0" in text
    assert ready == {"status": "ok", "database": "ok", "bus": "memory"}
