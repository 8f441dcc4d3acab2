"""The in-app inbox and the channel preferences (service layer)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from services.errors import InvalidInput, NotFound
from services.notification.channels import webhook_url_problem
from services.notification.tables import notifications, preferences


class NotificationPublic(BaseModel):
    id: uuid.UUID
    kind: str
    task_id: uuid.UUID | None
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
    due_at: datetime | None = None
    timezone: str | None = None


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    total: int
    page: int
    limit: int
    pages: int


@dataclass(frozen=True)
class Preferences:
    in_app: bool = True
    email: bool = False
    email_address: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None


# The columns a reader sees: every field of NotificationPublic.
_PUBLIC = [notifications.c[name] for name in NotificationPublic.model_fields]


def _public(row: Any) -> NotificationPublic:
    return NotificationPublic.model_validate(dict(row._mapping))


async def add_notification(
    conn: AsyncConnection,
    *,
    user_id: uuid.UUID,
    kind: str,
    task_id: uuid.UUID | None,
    title: str,
    body: str,
    source_event_id: str,
    due_at: datetime | None = None,
    timezone: str | None = None,
) -> NotificationPublic:
    values = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "kind": kind,
        "task_id": task_id,
        "title": title[:500],
        "body": body,
        "source_event_id": source_event_id,
        "created_at": datetime.now(UTC),
        "read_at": None,
        "due_at": due_at,
        "timezone": timezone,
    }
    await conn.execute(notifications.insert().values(**values))
    return NotificationPublic.model_validate(values)


async def list_notifications(
    conn: AsyncConnection, *, user_id: uuid.UUID, page: int, limit: int, unread_only: bool = False
) -> NotificationPage:
    where = [notifications.c.user_id == user_id]
    if unread_only:
        where.append(notifications.c.read_at.is_(None))
    total = int(
        (
            await conn.execute(sa.select(sa.func.count()).select_from(notifications).where(*where))
        ).scalar_one()
    )
    rows = (
        await conn.execute(
            sa.select(*_PUBLIC)
            .where(*where)
            .order_by(notifications.c.created_at.desc(), notifications.c.id)
            .limit(limit)
            .offset((page - 1) * limit)
        )
    ).all()
    return NotificationPage(
        items=[_public(r) for r in rows],
        total=total,
        page=page,
        limit=limit,
        pages=(total + limit - 1) // limit,
    )


async def mark_read(
    conn: AsyncConnection, *, user_id: uuid.UUID, notification_id: uuid.UUID
) -> NotificationPublic:
    await conn.execute(
        notifications.update()
        .where(
            notifications.c.id == notification_id,
            notifications.c.user_id == user_id,
            notifications.c.read_at.is_(None),
        )
        .values(read_at=datetime.now(UTC))
    )
    row = (
        await conn.execute(
            sa.select(*_PUBLIC).where(
                notifications.c.id == notification_id, notifications.c.user_id == user_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"no notification {notification_id}")
    return _public(row)


async def get_preferences(conn: AsyncConnection, user_id: uuid.UUID) -> Preferences:
    row = (
        await conn.execute(sa.select(preferences).where(preferences.c.user_id == user_id))
    ).first()
    if row is None:
        return Preferences()
    m = row._mapping
    return Preferences(
        m["in_app"], m["email"], m["email_address"], m["webhook_url"], m["webhook_secret"]
    )


async def set_preferences(
    conn: AsyncConnection,
    user_id: uuid.UUID,
    prefs: Preferences,
    *,
    allow_private_webhooks: bool = False,
) -> None:
    if prefs.webhook_url:
        problem = webhook_url_problem(prefs.webhook_url, allow_private=allow_private_webhooks)
        if problem is not None:
            raise InvalidInput("webhook_url", problem)
    if prefs.email and not prefs.email_address:
        raise InvalidInput("email_address", "is needed to turn email on")
    values = {
        "in_app": prefs.in_app,
        "email": prefs.email,
        "email_address": prefs.email_address,
        "webhook_url": prefs.webhook_url,
        "webhook_secret": prefs.webhook_secret,
        "updated_at": datetime.now(UTC),
    }
    updated = await conn.execute(
        preferences.update().where(preferences.c.user_id == user_id).values(**values)
    )
    if updated.rowcount == 0:
        await conn.execute(preferences.insert().values(user_id=user_id, **values))


async def forget_user(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    """Account deletion: the inbox and the channel preferences go."""
    await conn.execute(notifications.delete().where(notifications.c.user_id == user_id))
    await conn.execute(preferences.delete().where(preferences.c.user_id == user_id))
