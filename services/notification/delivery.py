"""reminder.triggered → each enabled channel, once; a failing channel is
recorded and dead-lettered on its own."""

import logging
import uuid
from datetime import datetime
from typing import Any

from events import CloudEvent, EventType, new_event
from events.bus import PermanentFailure
from events.processed import claim_event, was_processed
from events.runtime import dead_letter_event
from events.topics import Topic
from services.notification import subscriptions
from services.notification.channels import (
    DeliveryError,
    SmtpTarget,
    post_webhook,
    send_email,
    stable_message_id,
)
from services.notification.inbox import (
    Preferences,
    add_notification,
    forget_user,
    get_preferences,
)
from services.notification.webpush import PushSender, SubscriptionGone, topic_for
from services.shared.metrics import NOTIFICATIONS

log = logging.getLogger(__name__)
SOURCE = "/notification-service"
CONSUMER = "notification"


def _due(data: dict[str, Any]) -> datetime | None:
    due = data.get("due_at")
    return datetime.fromisoformat(due) if due else None


def _body(data: dict[str, Any]) -> str:
    local = _due(data)
    if local is None:
        return f"Reminder: {data['title']}"
    return f"Reminder: {data['title']} — due {local:%a %d %b %H:%M} ({data['timezone']})"


class ReminderDelivery:
    def __init__(
        self,
        uow_factory: Any,
        smtp: SmtpTarget | None,
        *,
        allow_private_webhooks: bool = False,
        push: PushSender | None = None,
    ) -> None:
        self._uow = uow_factory
        self._smtp = smtp
        self._allow_private = allow_private_webhooks
        self._push = push

    async def __call__(self, event: CloudEvent) -> None:
        if event.type != EventType.REMINDER_TRIGGERED:
            return
        try:
            user_id = uuid.UUID(event.userid)
            task_id = uuid.UUID(event.data["task_id"])
            title, body = str(event.data["title"]), _body(event.data)
        except (KeyError, ValueError, TypeError) as exc:
            raise PermanentFailure(f"malformed reminder.triggered: {exc}") from exc
        async with self._uow() as uow:
            prefs = await get_preferences(uow.connection, user_id)
            pushes = await subscriptions.for_user(uow.connection, user_id)
        if prefs.in_app:
            await self._in_app(event, user_id, task_id, title, body)
        if prefs.email and prefs.email_address and self._smtp is not None:
            target, address = self._smtp, prefs.email_address
            message_id = stable_message_id(f"reminder.{event.id}", target.sender)
            await self._external(
                event,
                "email",
                lambda: send_email(
                    target, to=address, subject=title, body=body, message_id=message_id
                ),
            )
        if prefs.webhook_url:
            url, secret = prefs.webhook_url, prefs.webhook_secret
            payload = {
                "event_id": event.id,
                "type": "reminder",
                "task_id": str(task_id),
                "title": title,
                "body": body,
                "due_at": event.data.get("due_at"),
            }
            allow = self._allow_private
            await self._external(
                event,
                "webhook",
                lambda: post_webhook(url, secret, payload, allow_private=allow),
            )
        if self._push is not None:
            await self._web_push(event, task_id, title, body, pushes)

    async def _web_push(
        self,
        event: CloudEvent,
        task_id: uuid.UUID,
        title: str,
        body: str,
        pushes: list[subscriptions.StoredSubscription],
    ) -> None:
        """Every browser the user subscribed, each once: the idempotency key is the
        event id per subscription. The page's service worker shows the message
        tagged with `event_id`, so a resend replaces it instead of adding one, and
        the `Topic` header lets the push service drop a queued earlier copy."""
        sender = self._push
        assert sender is not None
        payload = {
            "event_id": event.id,
            "type": "reminder",
            "task_id": str(task_id),
            "title": title,
            "body": body,
            "due_at": event.data.get("due_at"),
        }
        topic = topic_for(f"reminder.{event.id}")
        for push in pushes:
            target = push.target()
            await self._external(
                event,
                "push",
                lambda target=target: sender.send(target, payload, topic=topic),
                key=str(push.id),
                gone=push.id,
            )

    async def _in_app(
        self, event: CloudEvent, user_id: uuid.UUID, task_id: uuid.UUID, title: str, body: str
    ) -> None:
        async with self._uow() as uow:
            if not await claim_event(uow.connection, f"{CONSUMER}:in_app", event.id):
                return
            note = await add_notification(
                uow.connection,
                user_id=user_id,
                kind="reminder",
                task_id=task_id,
                title=title,
                body=body,
                source_event_id=event.id,
                due_at=_due(event.data),
                timezone=event.data.get("timezone"),
            )
            uow.emit(
                self._outcome(
                    event,
                    EventType.NOTIFICATION_SENT,
                    "in_app",
                    notification=note.model_dump(mode="json"),
                )
            )
            await uow.commit()
        NOTIFICATIONS.labels(channel="in_app", outcome="delivered").inc()

    async def _external(
        self,
        event: CloudEvent,
        channel: str,
        send: Any,
        *,
        key: str | None = None,
        gone: uuid.UUID | None = None,
    ) -> None:
        """Send once per (channel, key) and event: recorded after the send, so a
        crash in between sends again with the same idempotency key. `gone` is
        the push subscription to remove when the push service says it is gone."""
        consumer = f"{CONSUMER}:{channel}" + (f":{key}" if key else "")
        async with self._uow() as uow:
            if await was_processed(uow.connection, consumer, event.id):
                return
        error: str | None = None
        removed = False
        try:
            await send()
        except SubscriptionGone as exc:
            error, removed = str(exc), gone is not None
            log.info("%s delivery of %s: %s; subscription removed", channel, event.id, error)
        except DeliveryError as exc:
            error = str(exc)
            log.warning("%s delivery of %s failed: %s", channel, event.id, error)
        async with self._uow() as uow:
            if not await claim_event(uow.connection, consumer, event.id):
                return
            if error is None:
                uow.emit(self._outcome(event, EventType.NOTIFICATION_SENT, channel))
            elif removed and gone is not None:
                # Nothing to retry: the browser unsubscribed or its subscription expired.
                await subscriptions.remove(uow.connection, gone)
                uow.emit(self._outcome(event, EventType.NOTIFICATION_FAILED, channel, reason=error))
            else:
                uow.emit(
                    self._outcome(event, EventType.NOTIFICATION_FAILED, channel, reason=error),
                    dead_letter_event(
                        event, consumer=consumer, topic=Topic.REMINDER_EVENTS, reason=error
                    ),
                )
            await uow.commit()
        outcome = "delivered" if error is None else "failed"
        NOTIFICATIONS.labels(channel=channel, outcome=outcome).inc()

    def _outcome(
        self, event: CloudEvent, kind: EventType, channel: str, **extra: Any
    ) -> CloudEvent:
        return new_event(
            kind,
            source=SOURCE,
            user_id=event.userid,
            subject=event.subject,
            data={
                "channel": channel,
                "reminder_event_id": event.id,
                "task_id": event.data.get("task_id"),
                "title": event.data.get("title"),
                **extra,
            },
        )


class AccountCleanup:
    """`user.deleted` → the user's inbox, preferences and push subscriptions are removed."""

    def __init__(self, uow_factory: Any) -> None:
        self._uow = uow_factory

    async def __call__(self, event: CloudEvent) -> None:
        if event.type != EventType.USER_DELETED:
            return
        async with self._uow() as uow:
            user_id = uuid.UUID(event.userid)
            await forget_user(uow.connection, user_id)
            await subscriptions.forget_user(uow.connection, user_id)
            await uow.commit()


__all__ = ["AccountCleanup", "Preferences", "ReminderDelivery"]
