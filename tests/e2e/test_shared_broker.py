"""Two deployments on one Kafka broker (distinct KAFKA_GROUP_PREFIX) share the
topics but never each other's events: otherwise the recurring-task service of
one would fire the other's reminders and every reminder would arrive twice."""

import asyncio
import uuid

from events import CloudEvent, EventType, new_event
from events.bus import Subscription
from events.kafka import KafkaBus
from events.topics import Topic
from testsupport.event_data import task_data
from testsupport.kafka import start_groups_at_the_end


class Recorder:
    def __init__(self) -> None:
        self.ids: list[str] = []

    async def __call__(self, event: CloudEvent) -> None:
        self.ids.append(event.id)


def _event(user: uuid.UUID) -> CloudEvent:
    return new_event(
        EventType.TASK_CREATED,
        source="/test-shared-broker",
        user_id=user,
        subject=uuid.uuid4(),
        data={"task": task_data()},
    )


async def test_a_deployment_ignores_another_deployments_events(kafka: str) -> None:
    user = uuid.uuid4()  # one key: both events land on one partition, in order
    buses, seen = {}, {}
    for name in ("first", "second"):
        prefix = f"shared-{uuid.uuid4().hex[:8]}-{name}-"
        seen[name] = Recorder()
        subscription = Subscription(Topic.TASK_EVENTS, "recurring-task-reminders", seen[name])
        await start_groups_at_the_end(kafka, [subscription], prefix=prefix)
        buses[name] = KafkaBus(kafka, client_id=f"test-{name}", group_prefix=prefix)
        await buses[name].start([subscription])
    try:
        theirs, ours = _event(user), _event(user)
        await buses["first"].publish(Topic.TASK_EVENTS, theirs)
        await buses["second"].publish(Topic.TASK_EVENTS, ours)
        async with asyncio.timeout(60):
            while ours.id not in seen["second"].ids or theirs.id not in seen["first"].ids:
                await asyncio.sleep(0.1)
        assert seen["second"].ids == [ours.id]
        assert seen["first"].ids == [theirs.id]
    finally:
        await asyncio.gather(*(bus.stop() for bus in buses.values()))
