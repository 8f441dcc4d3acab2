"""Every event's data has a schema: producers cannot build an event that does
not match it, and consumers dead-letter one that does not instead of handling it."""

import json
import uuid
from typing import Any

import pytest

from events import CloudEvent, EventType, Topic, new_event
from events.bus import Subscription
from events.memory import MemoryBus
from events.schemas import (
    DATA_MODELS,
    DEFAULT_SCHEMA_BASE,
    InvalidEventData,
    schema_url,
    set_schema_base,
)
from testsupport.event_data import task_data, task_updated


def test_every_event_type_has_a_model() -> None:
    assert set(DATA_MODELS) == set(EventType)


def test_a_producer_cannot_build_an_event_with_a_missing_field() -> None:
    with pytest.raises(
        InvalidEventData, match=r"invalid task\.updated data: changed: Field required"
    ):
        new_event(
            EventType.TASK_UPDATED,
            source="/tests",
            user_id=uuid.uuid4(),
            subject=None,
            data={"task": task_data()},
        )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"priority": "urgent"},
            r"task\.priority: Input should be 'none', 'low', 'medium' or 'high'",
        ),
        ({"status": "done"}, r"task\.status: Input should be 'active' or 'completed'"),
        ({"due_at": "2026-01-05T09:00:00"}, r"task\.due_at: Input should have timezone info"),
        ({"version": "two"}, r"task\.version: Input should be a valid integer"),
        ({"titel": "typo"}, r"task\.titel: Extra inputs are not permitted"),
    ],
)
def test_a_producer_cannot_build_an_event_with_a_wrong_value(
    fields: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InvalidEventData, match=expected):
        new_event(
            EventType.TASK_CREATED,
            source="/tests",
            user_id=uuid.uuid4(),
            subject=None,
            data={"task": task_data(**fields)},
        )


def test_every_event_points_at_its_schema() -> None:
    event = new_event(
        EventType.TASK_UPDATED,
        source="/tests",
        user_id=uuid.uuid4(),
        subject=None,
        data=task_updated(),
    )
    assert event.dataschema == f"{DEFAULT_SCHEMA_BASE}/task.updated.json"
    assert event.to_json_dict()["dataschema"] == event.dataschema


def test_an_event_as_stored_and_sent_reads_back_the_same() -> None:
    # `to_json` is what the outbox keeps and the buses send: every attribute of
    # the event (none of its empty ones), any text, one line of compact JSON.
    title = 'Miete zahlen \u00fc \U0001f4b6 "quoted" \\ back\nslash \u2028 \x00 nul'
    event = new_event(
        EventType.TASK_CREATED,
        source="/tests",
        user_id=uuid.uuid4(),
        subject=None,
        data={"task": task_data(title=title)},
    )
    text = event.to_json()
    assert json.loads(text) == event.to_json_dict()
    assert CloudEvent.model_validate_json(text) == event
    assert json.loads(text)["data"]["task"]["title"] == title
    assert "\n" not in text
    assert ", " not in text
    assert '"subject"' not in text


def test_the_schema_base_is_configurable_and_must_be_absolute() -> None:
    try:
        set_schema_base("https://todo.example.org/schemas/events/")
        assert (
            schema_url("user.deleted")
            == "https://todo.example.org/schemas/events/user.deleted.json"
        )
        with pytest.raises(ValueError, match="absolute http"):
            set_schema_base("/schemas/events")
    finally:
        set_schema_base(DEFAULT_SCHEMA_BASE)


def _arriving(event_type: str, data: dict[str, Any]) -> CloudEvent:
    """An event as a broken or foreign producer would publish it: no check."""
    return CloudEvent(type=event_type, source="/elsewhere", userid="u1", data=data)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (_arriving("task.renamed", task_updated()), "unknown event type 'task.renamed'"),
        (_arriving("task.updated", {"task": task_data()}), "changed: Field required"),
        (
            _arriving("task.updated", {"task": task_data(), "changed": "title"}),
            "changed: Input should be a valid list",
        ),
        (
            _arriving("task.updated", task_updated() | {"task": task_data(priority=3)}),
            "task.priority: Input should be 'none', 'low', 'medium' or 'high'",
        ),
    ],
    ids=["unknown-type", "missing-field", "wrong-type", "wrong-enum"],
)
async def test_a_consumer_dead_letters_invalid_data_and_goes_on(
    event: CloudEvent, reason: str
) -> None:
    handled: list[CloudEvent] = []
    dead: list[CloudEvent] = []

    async def handle(received: CloudEvent) -> None:
        handled.append(received)

    async def audit(received: CloudEvent) -> None:
        dead.append(received)

    bus = MemoryBus()
    await bus.start(
        [
            Subscription(Topic.TASK_EVENTS, "consumer", handle),
            Subscription(Topic.DLQ_EVENTS, "audit", audit),
        ]
    )
    valid = new_event(
        EventType.TASK_UPDATED, source="/tests", user_id="u1", subject=None, data=task_updated()
    )
    await bus.publish(Topic.TASK_EVENTS, event)
    await bus.publish(Topic.TASK_EVENTS, valid)

    assert [e.id for e in handled] == [valid.id]
    assert [e.id for e in dead] == [event.id]
    extra = dead[0].model_extra or {}
    assert extra["dlqconsumer"] == "consumer"
    assert extra["dlqtopic"] == Topic.TASK_EVENTS
    assert extra["dlqreason"].startswith("InvalidEventData: ")
    assert reason in extra["dlqreason"]
    assert dead[0].data == event.data
