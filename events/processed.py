"""Idempotent consumers: a consumer records each event id it applied in the
same transaction as the effect, so a redelivered event changes nothing."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from events.sqltypes import UTCDateTime, table_of


class ProcessedEvent(SQLModel, table=True):
    """An event a consumer applied (its effect is committed with this row)."""

    __tablename__ = "processed_events"

    consumer: str = Field(primary_key=True, sa_type=sa.String(64))
    event_id: str = Field(primary_key=True, sa_type=sa.String(64))
    processed_at: datetime = Field(sa_type=UTCDateTime())


processed_events = table_of(ProcessedEvent)


async def claim_event(conn: AsyncConnection, consumer: str, event_id: str) -> bool:
    """True the first time `consumer` applies `event_id`; False when it
    already did (then skip the effect). Call it inside the effect's transaction."""
    values = {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)}
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    result = await conn.execute(insert(processed_events).values(values).on_conflict_do_nothing())
    return result.rowcount == 1


async def was_processed(conn: AsyncConnection, consumer: str, event_id: str) -> bool:
    """Whether `consumer` already applied `event_id` (read-only check)."""
    found = await conn.execute(
        sa.select(processed_events.c.event_id).where(
            processed_events.c.consumer == consumer, processed_events.c.event_id == event_id
        )
    )
    return found.first() is not None
