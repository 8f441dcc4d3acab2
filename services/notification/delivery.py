"""reminder.triggered → each enabled channel, once; a failing channel is
recorded and dead-lettered on its own."""

import asyncio
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events import CloudEvent, EventType, new_event
from events.bus import PermanentFailure
from events.processed import claim_event, claim_events, processed_by
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
IN_APP = f"{CONSUMER}:in_app"


def _due(data: dict[str, Any]) -> datetime | None:
    due = data.get("due_at")
    return datetime.fromisoformat(due) if due else None


def _body(data: dict[str, Any]) -> str:
    local = _due(data)
    if local is None:
        return f"Reminder: {data['title']}"
    return f"Reminder: {data['title']} — due {local:%a %d %b %H:%M} ({data['timezone']})"


@dataclass(frozen=True)
class _Send:
    """One delivery to an external channel: `consumer` is its idempotency record."""

    consumer: str
    channel: str
    send: Callable[[], Awaitable[None]]
    gone: uuid.UUID | None = None  # the push subscription to remove if the service says so


@dataclass(frozen=True)
class _Sent:
    send: _Send
    error: str | None = None
    removed: bool = False


class ReminderDelivery:
    """At most two transactions a reminder, however many channels. The
    preferences, and which channels already had the reminder, are read without
    a transaction; one transaction adds the in-app notification; then the
    external channels (email, webhook, each browser's push) are sent at the same
    time, so a slow one holds up none of the others; the second transaction
    records their outcomes. A redelivery that every channel already had takes
    no transaction. A crash between a send and its record sends again, with the
    same idempotency key (at least once)."""

    def __init__(
        self,
        uow_factory: Any,
        smtp: SmtpTarget | None,
        *,
        reading: Any,
        allow_private_webhooks: bool = False,
        push: PushSender | None = None,
    ) -> None:
        self._uow = uow_factory
        self._reading = reading
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
        # The reads take no write lock: SQLite has one for the whole database, and
        # during a burst of reminders the scheduler and the relay wait for it too.
        async with self._reading() as reading:
            prefs = await get_preferences(reading.connection, user_id)
            pushes = (
                await subscriptions.for_user(reading.connection, user_id)
                if self._push is not None
                else []
            )
            sends = self._sends(event, prefs, pushes, task_id, title, body)
            done = await processed_by(
                reading.connection, [IN_APP, *(s.consumer for s in sends)], event.id
            )
        if prefs.in_app and IN_APP not in done:
            async with self._uow() as uow:
                in_app = await self._in_app(uow, event, user_id, task_id, title, body)
                await uow.commit()
            if in_app:
                NOTIFICATIONS.labels(channel="in_app", outcome="delivered").inc()
        waiting = [s for s in sends if s.consumer not in done]
        if not waiting:
            return
        results = await asyncio.gather(
            *(self._attempt(event, s) for s in waiting), return_exceptions=True
        )
        # What was sent is recorded even when another channel raised: the retry
        # of the event then sends only that one again.
        await self._record(event, [r for r in results if isinstance(r, _Sent)])
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _sends(
        self,
        event: CloudEvent,
        prefs: Preferences,
        pushes: list[subscriptions.StoredSubscription],
        task_id: uuid.UUID,
        title: str,
        body: str,
    ) -> list[_Send]:
        """The external deliveries the user's preferences ask for."""
        sends: list[_Send] = []
        payload = {
            "event_id": event.id,
            "type": "reminder",
            "task_id": str(task_id),
            "title": title,
            "body": body,
            "due_at": event.data.get("due_at"),
        }
        if prefs.email and prefs.email_address and self._smtp is not None:
            target, address = self._smtp, prefs.email_address
            message_id = stable_message_id(f"reminder.{event.id}", target.sender)
            sends.append(
                _Send(
                    f"{CONSUMER}:email",
                    "email",
                    lambda: send_email(
                        target, to=address, subject=title, body=body, message_id=message_id
                    ),
                )
            )
        if prefs.webhook_url:
            url, secret, allow = prefs.webhook_url, prefs.webhook_secret, self._allow_private
            sends.append(
                _Send(
                    f"{CONSUMER}:webhook",
                    "webhook",
                    lambda: post_webhook(url, secret, payload, allow_private=allow),
                )
            )
        sender = self._push
        if sender is not None:
            # Every browser the user subscribed, each once: the idempotency key is
            # the event id per subscription. The page's service worker shows the
            # message tagged with `event_id`, so a resend replaces it instead of
            # adding one, and the `Topic` header lets the push service drop a
            # queued earlier copy.
            topic = topic_for(f"reminder.{event.id}")
            for push in pushes:
                sends.append(
                    _Send(
                        f"{CONSUMER}:push:{push.id}",
                        "push",
                        functools.partial(sender.send, push.target(), payload, topic=topic),
                        gone=push.id,
                    )
                )
        return sends

    async def _in_app(
        self,
        uow: Any,
        event: CloudEvent,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        title: str,
        body: str,
    ) -> bool:
        """Add the in-app notification in `uow`; False when it was added before."""
        if not await claim_event(uow.connection, IN_APP, event.id):
            return False
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
        return True

    async def _attempt(self, event: CloudEvent, send: _Send) -> _Sent:
        try:
            await send.send()
        except SubscriptionGone as exc:
            log.info("%s delivery of %s: %s; subscription removed", send.channel, event.id, exc)
            return _Sent(send, str(exc), removed=send.gone is not None)
        except DeliveryError as exc:
            log.warning("%s delivery of %s failed: %s", send.channel, event.id, exc)
            return _Sent(send, str(exc))
        return _Sent(send)

    async def _record(self, event: CloudEvent, finished: list[_Sent]) -> None:
        """The outcomes of the sends, in one transaction; a send another delivery
        of the same event recorded first is not recorded (or counted) twice."""
        if not finished:
            return
        async with self._uow() as uow:
            mine = await claim_events(
                uow.connection, [sent.send.consumer for sent in finished], event.id
            )
            recorded = [sent for sent in finished if sent.send.consumer in mine]
            for sent in recorded:
                channel, error = sent.send.channel, sent.error
                if error is None:
                    uow.emit(self._outcome(event, EventType.NOTIFICATION_SENT, channel))
                elif sent.removed and sent.send.gone is not None:
                    # Nothing to retry: the browser unsubscribed or its subscription expired.
                    await subscriptions.remove(uow.connection, sent.send.gone)
                    uow.emit(
                        self._outcome(event, EventType.NOTIFICATION_FAILED, channel, reason=error)
                    )
                else:
                    uow.emit(
                        self._outcome(event, EventType.NOTIFICATION_FAILED, channel, reason=error),
                        dead_letter_event(
                            event,
                            consumer=sent.send.consumer,
                            topic=Topic.REMINDER_EVENTS,
                            reason=error,
                        ),
                    )
            await uow.commit()
        for sent in recorded:
            outcome = "delivered" if sent.error is None else "failed"
            NOTIFICATIONS.labels(channel=sent.send.channel, outcome=outcome).inc()

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
