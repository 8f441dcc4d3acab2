"""The product's topics and event types (docs/reference.md, Events)."""

from enum import StrEnum


class Topic(StrEnum):
    TASK_EVENTS = "task-events"
    REMINDER_EVENTS = "reminder-events"
    NOTIFICATION_EVENTS = "notification-events"
    CHAT_EVENTS = "chat-events"
    AUDIT_EVENTS = "audit-events"
    DLQ_EVENTS = "dlq-events"


class EventType(StrEnum):
    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_COMPLETED = "task.completed"
    TASK_DELETED = "task.deleted"
    TASK_OCCURRENCE_GENERATED = "task.occurrence.generated"
    REMINDER_SCHEDULED = "reminder.scheduled"
    REMINDER_TRIGGERED = "reminder.triggered"
    NOTIFICATION_SENT = "notification.sent"
    NOTIFICATION_FAILED = "notification.failed"
    CHAT_MESSAGE_RECEIVED = "chat.message.received"
    CHAT_TOOL_CALLED = "chat.tool.called"
    CHAT_MESSAGE_ANSWERED = "chat.message.answered"
    # An account was deleted: every service forgets that user's data.
    USER_DELETED = "user.deleted"


_TOPIC_BY_PREFIX = {
    "task.": Topic.TASK_EVENTS,
    "user.": Topic.TASK_EVENTS,
    "reminder.": Topic.REMINDER_EVENTS,
    "notification.": Topic.NOTIFICATION_EVENTS,
    "chat.": Topic.CHAT_EVENTS,
}


def topic_for(event_type: str) -> Topic:
    """The topic an event type is published on."""
    for prefix, topic in _TOPIC_BY_PREFIX.items():
        if event_type.startswith(prefix):
            return topic
    raise ValueError(f"no topic for event type {event_type!r}")
