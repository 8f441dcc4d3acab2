"""Idempotent consumers: a consumer records each event id it applied in the
same transaction as the effect, so a redelivered event changes nothing."""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert
from sqlmodel import Field, SQLModel

from events.sqltypes import UTCDateTime, conflict_insert, table_of


class ProcessedEvent(SQLModel, table=True):
    """An event a consumer applied (its effect is committed with this row)."""

    __tablename__ = "processed_events"

    consumer: str = Field(primary_key=True, sa_type=sa.String(64))
    event_id: str = Field(primary_key=True, sa_type=sa.String(64))
    processed_at: datetime = Field(sa_type=UTCDateTime())


processed_events = table_of(ProcessedEvent)


def _claim(conn: AsyncConnection, consumers: Sequence[str], event_id: str) -> Insert:
    now = datetime.now(UTC)
    values = [{"consumer": c, "event_id": event_id, "processed_at": now} for c in consumers]
    insert = conflict_insert(conn.dialect.name, processed_events)
    return insert.values(values).on_conflict_do_nothing()


async def claim_event(conn: AsyncConnection, consumer: str, event_id: str) -> bool:
    """True the first time `consumer` applies `event_id`; False when it
    already did (then skip the effect). Call it inside the effect's transaction."""
    # The row count, not RETURNING: on SQLite a statement with RETURNING takes a
    # second trip to the database's thread, and this one holds the write lock.
    result = await conn.execute(_claim(conn, [consumer], event_id))
    return result.rowcount == 1


async def claim_events(conn: AsyncConnection, consumers: Sequence[str], event_id: str) -> set[str]:
    """`claim_event` for several consumers of one event, in one statement: the
    consumers that apply `event_id` now (the others already did)."""
    if not consumers:
        return set()
    result = await conn.execute(
        _claim(conn, consumers, event_id).returning(processed_events.c.consumer)
    )
    return {str(consumer) for consumer in result.scalars()}


async def processed_by(conn: AsyncConnection, consumers: Sequence[str], event_id: str) -> set[str]:
    """Which of `consumers` already applied `event_id` (read-only, one query)."""
    if not consumers:
        return set()
    found = await conn.execute(
        sa.select(processed_events.c.consumer).where(
            processed_events.c.consumer.in_(list(consumers)),
            processed_events.c.event_id == event_id,
        )
    )
    return {str(consumer) for consumer in found.scalars()}
