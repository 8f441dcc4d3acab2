"""The in-process bus: each consumer group goes at its own pace, yet a
publish reports an event done only once every group handled it (the outbox
relay marks rows sent on that), each user's events stay in order per group,
and what a group cannot handle is dead-lettered before it counts as done."""

import asyncio
import random
import uuid

from events.bus import PermanentFailure, Subscription
from events.cloudevents import CloudEvent, new_event
from events.memory import BusStopped, MemoryBus
from events.topics import EventType, Topic
from testsupport.event_data import task_updated


def an_event(user: uuid.UUID | None = None) -> CloudEvent:
    return new_event(
        EventType.TASK_UPDATED,
        source="/tests",
        user_id=user or uuid.uuid4(),
        subject=None,
        data=task_updated(),
    )


async def until(condition: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.001)


async def test_a_slow_group_does_not_hold_up_another_group_but_holds_the_publish() -> None:
    release = asyncio.Event()
    slow_seen: list[str] = []
    fast_seen: list[str] = []

    async def slow(event: CloudEvent) -> None:
        slow_seen.append(event.id)
        await release.wait()

    async def fast(event: CloudEvent) -> None:
        fast_seen.append(event.id)

    bus = MemoryBus()
    await bus.start(
        [
            Subscription(Topic.TASK_EVENTS, "slow", slow),
            Subscription(Topic.TASK_EVENTS, "fast", fast),
        ]
    )
    user = uuid.uuid4()
    events = [an_event(user) for _ in range(5)]
    publishing = asyncio.create_task(bus.publish_many([(Topic.TASK_EVENTS, e) for e in events]))
    try:
        # The fast group handles the whole batch while the slow one is stuck
        # on the first event ...
        await until(lambda: len(fast_seen) == len(events))
        assert fast_seen == [e.id for e in events]
        assert slow_seen == [events[0].id]
        # ... but the batch is not reported done (not marked sent) until the
        # slow group handled it too.
        await asyncio.sleep(0.05)
        assert not publishing.done()
        release.set()
        assert await publishing == (len(events), None)
        assert slow_seen == [e.id for e in events]
    finally:
        await bus.stop()


async def test_a_single_publish_returns_once_every_group_handled_the_event() -> None:
    handled: list[str] = []

    async def handler(event: CloudEvent) -> None:
        await asyncio.sleep(0.01)
        handled.append(event.id)

    bus = MemoryBus()
    await bus.start([Subscription(Topic.TASK_EVENTS, f"g{n}", handler) for n in range(3)])
    event = an_event()
    try:
        await bus.publish(Topic.TASK_EVENTS, event)
        assert handled == [event.id] * 3
    finally:
        await bus.stop()


async def test_each_group_sees_each_users_events_in_publish_order() -> None:
    rng = random.Random(7)
    seen: dict[str, dict[str, list[str]]] = {"a": {}, "b": {}}

    def recorder(group: str) -> Subscription:
        async def handler(event: CloudEvent) -> None:
            for _ in range(rng.randrange(4)):
                await asyncio.sleep(0)
            seen[group].setdefault(event.userid, []).append(event.id)

        return Subscription(Topic.TASK_EVENTS, group, handler)

    bus = MemoryBus(lanes=3)
    await bus.start([recorder("a"), recorder("b")])
    users = [uuid.uuid4() for _ in range(7)]
    events = [an_event(rng.choice(users)) for _ in range(300)]
    try:
        for start in range(0, len(events), 50):
            batch = [(Topic.TASK_EVENTS, e) for e in events[start : start + 50]]
            assert await bus.publish_many(batch) == (len(batch), None)
    finally:
        await bus.stop()
    for group in ("a", "b"):
        for user in users:
            expected = [e.id for e in events if e.userid == str(user)]
            assert seen[group].get(str(user), []) == expected


async def test_an_event_a_group_cannot_handle_is_dead_lettered_before_the_publish_returns() -> None:
    dead: list[CloudEvent] = []

    async def refuse(event: CloudEvent) -> None:
        raise PermanentFailure("never")

    async def keep(event: CloudEvent) -> None:
        dead.append(event)

    bus = MemoryBus()
    await bus.start(
        [
            Subscription(Topic.TASK_EVENTS, "refuser", refuse),
            Subscription(Topic.DLQ_EVENTS, "dlq-watch", keep),
        ]
    )
    event = an_event()
    try:
        assert await bus.publish_many([(Topic.TASK_EVENTS, event)]) == (1, None)
        assert [(d.id, (d.model_extra or {}).get("dlqconsumer")) for d in dead] == [
            (event.id, "refuser")
        ]
    finally:
        await bus.stop()


async def test_stopping_the_bus_reports_unhandled_events_as_not_delivered() -> None:
    started = asyncio.Event()

    async def stuck(event: CloudEvent) -> None:
        started.set()
        await asyncio.Event().wait()

    bus = MemoryBus()
    await bus.start([Subscription(Topic.TASK_EVENTS, "stuck", stuck)])
    batch = [(Topic.TASK_EVENTS, an_event()) for _ in range(3)]
    publishing = asyncio.create_task(bus.publish_many(batch))
    await started.wait()
    await bus.stop()
    result = await publishing
    assert result[0] == 0
    assert isinstance(result[1], BusStopped)
