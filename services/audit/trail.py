"""The audit trail: recording events (consumer) and reading them (queries)."""

import functools
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from events import CloudEvent
from events.bus import Subscription
from events.topics import Topic
from services.shared.db import conflict_insert, reader
from services.shared.tables import AUDIT_ACCOUNT_DELETED
from services.shared.tables import audit_logs as audit_logs  # the trail's table

AUDITED_TOPICS = [
    Topic.TASK_EVENTS,
    Topic.REMINDER_EVENTS,
    Topic.NOTIFICATION_EVENTS,
    Topic.CHAT_EVENTS,
    Topic.DLQ_EVENTS,
]
_RESOURCE = {
    "task": "task",
    "reminder": "reminder",
    "notification": "notification",
    "chat": "conversation",
}


class AuditEntry(BaseModel):
    event_id: str
    event_type: str
    event_source: str
    event_time: datetime
    actor_id: str
    resource_type: str
    resource_id: str | None
    metadata: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntry]
    total: int
    page: int
    limit: int
    pages: int


REDACTED: dict[str, Any] = {"redacted": "account deleted"}


class AuditRecorder:
    """One row per (event, topic); a redelivery inserts nothing (the unique
    key is the idempotency record, in the same statement as the effect)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._autocommit = reader(engine)

    def subscriptions(self) -> list[Subscription]:
        return [Subscription(topic, "audit", self._handler(topic)) for topic in AUDITED_TOPICS]

    def _handler(self, topic: str) -> Any:
        async def handle(event: CloudEvent) -> None:
            await self.record(topic, event)

        return handle

    async def _redact(self, actor: str) -> None:
        """Account deletion keeps what an operator must keep: which event
        happened when, to which resource id, from which service; the content
        (titles, descriptions, messages) is erased. The deletion's own row (the
        account's id) stays as it is, however often it is delivered."""
        async with self._engine.begin() as conn:
            await conn.execute(
                audit_logs.update()
                .where(audit_logs.c.actor_id == actor, audit_logs.c.event_type != "user.deleted")
                .values(metadata=REDACTED)
            )

    async def record(self, topic: str, event: CloudEvent) -> None:
        prefix = event.type.split(".", 1)[0]
        resource_type = "dlq" if topic == Topic.DLQ_EVENTS else _RESOURCE.get(prefix, prefix)
        values = {
            "event_id": event.id,
            "topic": topic,
            "event_type": event.type,
            "event_source": event.source[:200],
            "event_time": event.time,
            "actor_id": event.userid,
            "resource_type": resource_type,
            "resource_id": event.subject,
            "recorded_at": datetime.now(UTC),
            "metadata": {**event.data, **({"dlq": event.model_extra} if event.model_extra else {})},
        }
        if event.type == "user.deleted":
            await self._redact(event.userid)
            values["redacted"] = values["metadata"]  # the deletion itself keeps what it says
        else:
            values["redacted"] = REDACTED
        # One statement, its own transaction: a redelivery inserts nothing, and the
        # content is redacted when the account's deletion is already recorded
        # (topics are consumed independently: an event of a deleted account can
        # arrive after its user.deleted, and must be kept redacted too).
        async with self._autocommit.connect() as conn:
            await conn.execute(_record_statement(conn.dialect.name), values)


_RECORDED = [
    "event_id",
    "topic",
    "event_type",
    "event_source",
    "event_time",
    "actor_id",
    "resource_type",
    "resource_id",
    "recorded_at",
]


@functools.cache
def _record_statement(dialect: str) -> sa.Insert:
    """INSERT ... SELECT of one audit row from bound values, its metadata
    swapped for `redacted` when the actor has a recorded `user.deleted`,
    nothing on a conflict with the row already there. Built once per dialect."""
    column = audit_logs.c
    # The event type is written into the statement, not bound, so that every
    # plan of it (a prepared statement's generic plan too) can see the partial
    # index's own predicate and answer from that small index, however long the
    # actor's trail is.
    deleted = (
        sa.select(sa.literal(1))
        .where(column.actor_id == sa.bindparam("actor_id"), sa.text(AUDIT_ACCOUNT_DELETED))
        .exists()
    )
    metadata = sa.case(
        (deleted, sa.bindparam("redacted", type_=column.metadata.type)),
        else_=sa.bindparam("metadata", type_=column.metadata.type),
    )
    row = sa.select(
        *(sa.bindparam(name, type_=column[name].type) for name in _RECORDED), metadata
    ).where(sa.true())  # SQLite: without a WHERE, ON CONFLICT could be read as a join's ON
    return (
        conflict_insert(dialect, audit_logs)
        .from_select([*_RECORDED, "metadata"], row)
        .on_conflict_do_nothing(index_elements=["event_id", "topic"])
    )


def _filters(
    actor: uuid.UUID,
    event_type: str | None,
    resource_id: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[sa.ColumnElement[bool]]:
    where = [audit_logs.c.actor_id == str(actor)]
    if event_type:
        where.append(audit_logs.c.event_type == event_type)
    if resource_id:
        where.append(audit_logs.c.resource_id == resource_id)
    if start:
        where.append(audit_logs.c.event_time >= start)
    if end:
        where.append(audit_logs.c.event_time <= end)
    return where


_COLUMNS = [
    audit_logs.c.event_id,
    audit_logs.c.event_type,
    audit_logs.c.event_source,
    audit_logs.c.event_time,
    audit_logs.c.actor_id,
    audit_logs.c.resource_type,
    audit_logs.c.resource_id,
    audit_logs.c.metadata,
]


async def query_trail(
    engine: AsyncEngine,
    *,
    actor: uuid.UUID,
    event_type: str | None,
    resource_id: str | None,
    start: datetime | None,
    end: datetime | None,
    page: int,
    limit: int,
) -> AuditPage:
    where = _filters(actor, event_type, resource_id, start, end)
    async with engine.connect() as conn:
        total = int(
            (
                await conn.execute(sa.select(sa.func.count()).select_from(audit_logs).where(*where))
            ).scalar_one()
        )
        rows = (
            await conn.execute(
                sa.select(*_COLUMNS)
                .where(*where)
                .order_by(audit_logs.c.event_time.desc(), audit_logs.c.id.desc())
                .limit(limit)
                .offset((page - 1) * limit)
            )
        ).all()
    return AuditPage(
        items=[AuditEntry.model_validate(dict(r._mapping)) for r in rows],
        total=total,
        page=page,
        limit=limit,
        pages=(total + limit - 1) // limit,
    )


async def stream_trail(
    engine: AsyncEngine,
    *,
    actor: uuid.UUID,
    event_type: str | None,
    resource_id: str | None,
    start: datetime | None,
    end: datetime | None,
    chunk: int = 500,
) -> AsyncIterator[AuditEntry]:
    """The whole matching trail, oldest first, read in chunks (keyset paging)."""
    where = _filters(actor, event_type, resource_id, start, end)
    last_id = 0
    while True:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(audit_logs.c.id, *_COLUMNS)
                    .where(*where, audit_logs.c.id > last_id)
                    .order_by(audit_logs.c.id)
                    .limit(chunk)
                )
            ).all()
        for row in rows:
            values = dict(row._mapping)
            last_id = values.pop("id")
            yield AuditEntry.model_validate(values)
        if len(rows) < chunk:
            return


def as_json_line(entry: AuditEntry) -> str:
    return json.dumps(entry.model_dump(mode="json"), separators=(",", ":"))
