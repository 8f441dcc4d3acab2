"""/api/notifications: the in-app inbox and channel preferences."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, EmailStr, Field

from services.notification import inbox
from services.notification.inbox import NotificationPage, NotificationPublic, Preferences
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
