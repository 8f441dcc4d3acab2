"""The consumer runtime: which failures wait, which dead-letter, and that
nothing read from dlq-events is dead-lettered onto it again."""

import uuid

import pytest
from sqlalchemy import exc as sa_exc

from events.bus import PermanentFailure, Subscription
from events.cloudevents import CloudEvent, new_event
from events.memory import MemoryBus
from events.runtime import Dispatcher, Outcome, is_outage
from events.topics import EventType, Topic
from testsupport.event_data import task_updated


def an_event() -> CloudEvent:
    return new_event(
        EventType.TASK_UPDATED,
        source="/tests",
        user_id=uuid.uuid4(),
        subject=None,
        data=task_updated(),
    )


class CannotConnectNowError(Exception):
    """Named like the driver's error for a server that is starting or stopping."""


def failing(times: int, error: Exception) -> tuple[list[int], Subscription]:
    calls: list[int] = []

    async def handler(event: CloudEvent) -> None:
        calls.append(1)
        if len(calls) <= times:
            raise error

    return calls, Subscription(Topic.TASK_EVENTS, "audit", handler, max_attempts=3)


def recording_bus() -> MemoryBus:
    bus = MemoryBus()
    bus.record()
    return bus


async def test_an_outage_longer_than_the_retry_budget_does_not_dead_letter_a_valid_event() -> None:
    bus = recording_bus()
    calls, subscription = failing(7, ConnectionRefusedError(111, "Connection refused"))
    outcome = await Dispatcher(bus, backoff=lambda _: 0.0).deliver(subscription, an_event())
    assert outcome is Outcome.HANDLED
    assert len(calls) == 8
    assert bus.published == []


async def test_an_event_that_keeps_failing_is_dead_lettered_after_its_attempts() -> None:
    bus = recording_bus()
    calls, subscription = failing(100, ValueError("bad data"))
    event = an_event()
    outcome = await Dispatcher(bus, backoff=lambda _: 0.0).deliver(subscription, event)
    assert outcome is Outcome.DEAD_LETTERED
    assert len(calls) == 3
    [(topic, dead)] = bus.published
    assert topic == Topic.DLQ_EVENTS
    assert dead.id == event.id
    assert dead.model_dump()["dlqreason"] == "ValueError: bad data"


async def test_an_outage_that_outlasts_its_budget_counts_like_any_failure() -> None:
    bus = recording_bus()
    calls, subscription = failing(100, TimeoutError("timed out"))
    dispatcher = Dispatcher(bus, backoff=lambda _: 0.0, outage_seconds=0.0)
    assert await dispatcher.deliver(subscription, an_event()) is Outcome.DEAD_LETTERED
    assert len(calls) == 4  # the first outage starts the clock, then 3 counted attempts
    assert len(bus.published) == 1


async def test_a_permanent_failure_is_dead_lettered_at_once() -> None:
    bus = recording_bus()
    calls, subscription = failing(100, PermanentFailure("malformed"))
    assert (
        await Dispatcher(bus, backoff=lambda _: 0.0).deliver(subscription, an_event())
        is Outcome.DEAD_LETTERED
    )
    assert len(calls) == 1


async def test_a_failing_consumer_of_the_dlq_never_dead_letters_onto_it_again() -> None:
    bus = recording_bus()

    async def fails(event: CloudEvent) -> None:
        raise ValueError("cannot store")

    subscription = Subscription(Topic.DLQ_EVENTS, "audit-dlq", fails, max_attempts=2)
    outcome = await Dispatcher(bus, backoff=lambda _: 0.0).deliver(subscription, an_event())
    assert outcome is Outcome.DROPPED
    assert bus.published == []


def _chained(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except Exception as raised:
        return raised


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (ConnectionRefusedError(111, "refused"), True),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed"), True),
        (TimeoutError(), True),
        (CannotConnectNowError("the database system is starting up"), True),
        (_chained(RuntimeError("while storing"), ConnectionResetError()), True),
        (
            sa_exc.DBAPIError("SELECT 1", None, Exception("gone"), connection_invalidated=True),
            True,
        ),
        (ValueError("bad"), False),
        (FileNotFoundError("template.txt"), False),
        (sa_exc.IntegrityError("INSERT", None, Exception("duplicate key")), False),
        (PermanentFailure("malformed"), False),
    ],
)
def test_outages_are_told_apart_from_bad_events(error: Exception, outage: bool) -> None:
    assert is_outage(error) is outage
