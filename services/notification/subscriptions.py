"""Web Push subscriptions per user (service layer)."""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection

from services.errors import InvalidInput, NotFound
from services.notification.tables import push_subscriptions
from services.notification.webpush import (
    Subscription,
    auth_problem,
    endpoint_problem,
    p256dh_problem,
)


class PushSubscriptionPublic(BaseModel):
    id: uuid.UUID
    endpoint: str
    created_at: datetime


class StoredSubscription(BaseModel):
    id: uuid.UUID
    endpoint: str
    p256dh: str
    auth: str

    def target(self) -> Subscription:
        return Subscription(self.endpoint, self.p256dh, self.auth)


async def subscribe(
    conn: AsyncConnection,
    user_id: uuid.UUID,
    subscription: Subscription,
    *,
    allow_insecure: bool = False,
) -> PushSubscriptionPublic:
    """Store a browser's subscription for the user. The same endpoint again
    (a browser that subscribes anew, or another account signing in on it)
    replaces the stored keys and owner: a browser has one subscription."""
    for field, problem in (
        ("endpoint", endpoint_problem(subscription.endpoint, allow_insecure=allow_insecure)),
        ("keys.p256dh", p256dh_problem(subscription.p256dh)),
        ("keys.auth", auth_problem(subscription.auth)),
    ):
        if problem is not None:
            raise InvalidInput(field, problem)
    values = {
        "user_id": user_id,
        "p256dh": subscription.p256dh,
        "auth": subscription.auth,
        "created_at": datetime.now(UTC),
    }
    existing = (
        await conn.execute(
            sa.select(push_subscriptions.c.id).where(
                push_subscriptions.c.endpoint == subscription.endpoint
            )
        )
    ).scalar_one_or_none()
    if existing is None:
        existing = uuid.uuid4()
        await conn.execute(
            push_subscriptions.insert().values(
                id=existing, endpoint=subscription.endpoint, **values
            )
        )
    else:
        await conn.execute(
            push_subscriptions.update().where(push_subscriptions.c.id == existing).values(**values)
        )
    return PushSubscriptionPublic(
        id=existing, endpoint=subscription.endpoint, created_at=values["created_at"]
    )


async def list_public(conn: AsyncConnection, user_id: uuid.UUID) -> list[PushSubscriptionPublic]:
    rows = await conn.execute(
        sa.select(
            push_subscriptions.c.id,
            push_subscriptions.c.endpoint,
            push_subscriptions.c.created_at,
        )
        .where(push_subscriptions.c.user_id == user_id)
        .order_by(push_subscriptions.c.created_at, push_subscriptions.c.id)
    )
    return [PushSubscriptionPublic.model_validate(dict(r._mapping)) for r in rows]


async def for_user(conn: AsyncConnection, user_id: uuid.UUID) -> list[StoredSubscription]:
    rows = await conn.execute(
        sa.select(
            push_subscriptions.c.id,
            push_subscriptions.c.endpoint,
            push_subscriptions.c.p256dh,
            push_subscriptions.c.auth,
        )
        .where(push_subscriptions.c.user_id == user_id)
        .order_by(push_subscriptions.c.created_at, push_subscriptions.c.id)
    )
    return [StoredSubscription.model_validate(dict(r._mapping)) for r in rows]


async def unsubscribe(conn: AsyncConnection, user_id: uuid.UUID, endpoint: str) -> None:
    deleted = await conn.execute(
        push_subscriptions.delete().where(
            push_subscriptions.c.user_id == user_id,
            push_subscriptions.c.endpoint == endpoint,
        )
    )
    if deleted.rowcount == 0:
        raise NotFound("no push subscription of yours has that endpoint")


async def remove(conn: AsyncConnection, subscription_id: uuid.UUID) -> None:
    """The push service says the subscription is gone."""
    await conn.execute(
        push_subscriptions.delete().where(push_subscriptions.c.id == subscription_id)
    )


async def forget_user(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    await conn.execute(push_subscriptions.delete().where(push_subscriptions.c.user_id == user_id))
