"""Events: CloudEvent schemas, topics and the transactional outbox.

Only this package knows how events travel. Producers build a `CloudEvent`
with `new_event`, hand it to their unit of work, and the unit of work writes it
to the outbox in the same transaction as the change (`write_outbox`).
"""

from events.cloudevents import CloudEvent, new_event
from events.outbox import outbox_rows, outbox_table, pending_table, write_outbox
from events.topics import EventType, Topic, topic_for

__all__ = [
    "CloudEvent",
    "EventType",
    "Topic",
    "new_event",
    "outbox_rows",
    "outbox_table",
    "pending_table",
    "topic_for",
    "write_outbox",
]
