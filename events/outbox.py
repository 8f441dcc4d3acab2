"""The transactional outbox: events are rows written with the change itself.

`outbox` keeps every event written for a while (the relay's `retention`; a
reconnecting live feed resumes from it). `outbox_pending` is the relay's
queue: one narrow row per event not sent yet, which the database itself adds
for every row inserted into `outbox` (a trigger the migrations create), so no
writer can leave an event unqueued. A relay (the event backbone) reads pending
rows in id order, publishes their events and deletes them: deleting a small
row costs the database far less than rewriting the event row and its index
entries to mark it sent. The id is the commit order; `partition_key` keeps
one user's events together.
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from events.cloudevents import CloudEvent
from events.sqltypes import UTCDateTime, serial_id, table_of
from events.topics import Topic, topic_for
from events.tracing import with_trace


class Outbox(SQLModel, table=True):
    """An event, sent or not: written once, deleted when old; `outbox_table`
    is its table."""

    __tablename__ = "outbox"
    __table_args__ = (
        # also how an event is found by id (the live feed resuming after it)
        sa.UniqueConstraint("event_id", "topic", name="uq_outbox_event_topic"),
        sa.Index("ix_outbox_partition_key_id", "partition_key", "id"),
    )

    id: int = serial_id()
    event_id: str = Field(sa_type=sa.String(64))
    topic: str = Field(sa_type=sa.String(64))
    event_type: str = Field(sa_type=sa.String(64))
    partition_key: str = Field(sa_type=sa.String(64))
    payload: str = Field(sa_type=sa.Text())
    created_at: datetime = Field(sa_type=UTCDateTime())


class OutboxPending(SQLModel, table=True):
    """An outbox row the relay has not sent yet (same id): added by the
    database when the row is inserted, deleted once the bus took the event;
    `pending_table` is its table. The relay's failed attempts at it are
    counted here."""

    __tablename__ = "outbox_pending"

    id: int = Field(
        primary_key=True,
        sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa_column_kwargs={"autoincrement": False},
    )
    partition_key: str = Field(sa_type=sa.String(64))
    attempts: int = Field(sa_type=sa.Integer(), sa_column_kwargs={"server_default": "0"})
    last_error: str | None = Field(sa_type=sa.Text())


# Every table is on SQLModel's one registry (the migrations are compared with
# it); queries are written in Core against the table.
metadata = SQLModel.metadata
outbox_table = table_of(Outbox)
pending_table = table_of(OutboxPending)


def outbox_rows(events: Sequence[CloudEvent]) -> list[dict[str, object]]:
    """The outbox rows of `events`, in the order given, each carrying the
    trace of the request or handler making the change."""
    rows: list[dict[str, object]] = []
    for event in events:
        event = with_trace(event)
        rows.append(
            {
                "event_id": event.id,
                "topic": _topic(event),
                "event_type": event.type,
                "partition_key": event.userid,
                "payload": event.to_json(),
                "created_at": event.time,
            }
        )
    return rows


async def write_outbox(conn: AsyncConnection, events: Sequence[CloudEvent]) -> None:
    """Insert events in the caller's open transaction, in the order given (the
    database queues each for the relay)."""
    if not events:
        return
    await conn.execute(outbox_table.insert(), outbox_rows(events))


def _topic(event: CloudEvent) -> str:
    # A dead-lettered event keeps its type; the extension says where it goes.
    if (event.model_extra or {}).get("dlqconsumer"):
        return Topic.DLQ_EVENTS.value
    return topic_for(event.type).value


async def read_after(
    conn: AsyncConnection,
    *,
    partition_key: str,
    topic: Topic,
    after_event_id: str,
    limit: int,
) -> list[CloudEvent] | None:
    """The events of one partition key on `topic` written after the event
    `after_event_id`, in commit order, at most `limit` of them.

    None when that event is not in the outbox (unknown, of another key, or
    already pruned) or more than `limit` follow it: the reader has to catch up
    some other way. Rows are read whether or not the relay has sent them yet.
    """
    start = (
        await conn.execute(
            sa.select(outbox_table.c.id).where(
                outbox_table.c.event_id == after_event_id,
                outbox_table.c.partition_key == partition_key,
            )
        )
    ).scalar_one_or_none()
    if start is None:
        return None
    rows = (
        (
            await conn.execute(
                sa.select(outbox_table.c.payload)
                .where(
                    outbox_table.c.partition_key == partition_key,
                    outbox_table.c.topic == topic.value,
                    outbox_table.c.id > start,
                )
                .order_by(outbox_table.c.id)
                .limit(limit + 1)
            )
        )
        .scalars()
        .all()
    )
    if len(rows) > limit:
        return None
    return [CloudEvent.model_validate_json(str(payload)) for payload in rows]
