"""/api/notifications: the in-app inbox, channel preferences and Web Push subscriptions."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.errors import NotFound
from services.notification import inbox, subscriptions
from services.notification.inbox import NotificationPage, NotificationPublic, Preferences
from services.notification.subscriptions import PushSubscriptionPublic
from services.notification.webpush import PushSender, Subscription
from services.shared.api_deps import ContainerDep, CurrentUser, UowDep

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


class PreferencesBody(BaseModel):
    in_app: bool = True
    email: bool = False
    email_address: EmailStr | None = None
    webhook_url: Annotated[
        str | None,
        Field(
            max_length=2000,
            pattern=r"^(https?://[^\s\x00-\x1f\x7f]+)?$",
            description="An http(s) URL the reminders are POSTed to; empty: none",
        ),
    ] = None
    webhook_secret: Annotated[
        str | None,
        Field(
            min_length=16,
            max_length=200,
            pattern=r"^[^\x00-\x1f\x7f]*$",
            description="Signs each webhook (HMAC-SHA256)",
        ),
    ] = None


class PreferencesPublic(BaseModel):
    in_app: bool
    email: bool
    email_address: str | None
    webhook_url: str | None
    webhook_signed: bool


def _public(prefs: Preferences) -> PreferencesPublic:
    return PreferencesPublic(
        in_app=prefs.in_app,
        email=prefs.email,
        email_address=prefs.email_address,
        webhook_url=prefs.webhook_url,
        webhook_signed=bool(prefs.webhook_secret),
    )


@router.get("", response_model=NotificationPage)
async def list_notifications(
    user: CurrentUser,
    uow: UowDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    unread: Annotated[bool, Query(description="Only unread ones")] = False,
) -> NotificationPage:
    return await inbox.list_notifications(
        uow.connection, user_id=user.user_id, page=page, limit=limit, unread_only=unread
    )


@router.post("/{notification_id}/read", response_model=NotificationPublic)
async def mark_read(
    notification_id: uuid.UUID, user: CurrentUser, uow: UowDep
) -> NotificationPublic:
    note = await inbox.mark_read(
        uow.connection, user_id=user.user_id, notification_id=notification_id
    )
    await uow.commit()
    return note


@router.get("/preferences", response_model=PreferencesPublic)
async def get_preferences(user: CurrentUser, uow: UowDep) -> PreferencesPublic:
    return _public(await inbox.get_preferences(uow.connection, user.user_id))


@router.put("/preferences", response_model=PreferencesPublic)
async def put_preferences(
    body: PreferencesBody, user: CurrentUser, uow: UowDep, container: ContainerDep
) -> PreferencesPublic:
    prefs = Preferences(
        in_app=body.in_app,
        email=body.email,
        email_address=body.email_address or (user.email if body.email else None),
        webhook_url=body.webhook_url,
        webhook_secret=body.webhook_secret,
    )
    allow = container.settings.webhook_allow_private
    await inbox.set_preferences(uow.connection, user.user_id, prefs, allow_private_webhooks=allow)
    await uow.commit()
    return _public(prefs)


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    p256dh: Annotated[str, Field(min_length=1, max_length=100)]
    auth: Annotated[str, Field(min_length=1, max_length=50)]


class PushSubscriptionBody(BaseModel):
    """What the browser's `PushSubscription.toJSON()` gives."""

    model_config = ConfigDict(extra="forbid")

    endpoint: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\s\x00-\x1f\x7f]+$")]
    expirationTime: int | None = Field(default=None, ge=0)  # the browser names it so
    keys: PushKeys


class PushKey(BaseModel):
    public_key: str = Field(description="The VAPID public key: the page's applicationServerKey")


def push_router(sender: PushSender | None) -> APIRouter:
    """The Web Push routes, handed this process's sender (None: push is off)."""
    push = APIRouter(prefix="/api/notifications/push", tags=["notifications"])

    def _sender() -> PushSender:
        if sender is None:
            raise NotFound("push notifications are not set up on this server (no VAPID key)")
        return sender

    off: dict[int | str, dict[str, Any]] = {
        404: {"description": "Push notifications are not set up on this server"}
    }

    @push.get("/key", response_model=PushKey, responses=off)
    async def push_key(user: CurrentUser) -> PushKey:
        return PushKey(public_key=_sender().public_key)

    @push.get("/subscriptions", response_model=list[PushSubscriptionPublic])
    async def list_push_subscriptions(
        user: CurrentUser, uow: UowDep
    ) -> list[PushSubscriptionPublic]:
        return await subscriptions.list_public(uow.connection, user.user_id)

    @push.post(
        "/subscriptions", response_model=PushSubscriptionPublic, status_code=201, responses=off
    )
    async def push_subscribe(
        body: PushSubscriptionBody, user: CurrentUser, uow: UowDep
    ) -> PushSubscriptionPublic:
        stored = await subscriptions.subscribe(
            uow.connection,
            user.user_id,
            Subscription(body.endpoint, body.keys.p256dh, body.keys.auth),
            allow_insecure=_sender().allow_insecure,
        )
        await uow.commit()
        return stored

    @push.delete(
        "/subscriptions",
        status_code=204,
        responses={404: {"description": "No subscription of yours has that endpoint"}},
    )
    async def push_unsubscribe(
        user: CurrentUser,
        uow: UowDep,
        endpoint: Annotated[str, Query(min_length=1, max_length=2000, description="The endpoint")],
    ) -> Response:
        await subscriptions.unsubscribe(uow.connection, user.user_id, endpoint)
        await uow.commit()
        return Response(status_code=204)

    return push
