"""The acceptance scenarios, end to end in one process (in-process bus) on
SQLite and PostgreSQL: recurring tasks, reminders, notifications, audit."""

import asyncio
import email
import hashlib
import hmac
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request

from services.bootstrap import Container
from tests.conftest import LiveServer, serve_app
from tests.integration.events.test_event_flow import eventually, register


class Inbox:
    """An SMTP server's handler that keeps what it received. With `waits_for`
    set, a mail is accepted only once that happened (or refused after 5 s)."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.waits_for: threading.Event | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.waits_for is not None:
            # The SMTP server runs a loop of its own, in its own thread.
            loop = asyncio.get_running_loop()
            if not await loop.run_in_executor(None, self.waits_for.wait, 5):
                return "451 waited 5 s for the webhook; try again later"
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def system(container: Container, smtp: tuple[Inbox, int]) -> AsyncIterator[LiveServer]:
    _, port = smtp
    from services.notification.channels import parse_smtp_url

    container.smtp = parse_smtp_url(f"smtp://127.0.0.1:{port}", "todo <todo@localhost>")
    # The test's webhook receivers listen on loopback.
    container.settings = container.settings.model_copy(update={"webhook_allow_private": True})
    async for server in serve_app(container):
        yield server


async def api(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], **kwargs: Any
) -> Any:
    response = await client.request(method, url, headers=headers, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def test_a_task_with_every_field_is_published_and_audited(system: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=system.url) as client:
        _, me = await register(client, system.url)
        task = await api(
            client,
            "POST",
            "/api/tasks",
            me,
            json={
                "title": "Renew passport",
                "description": "photos first",
                "priority": "high",
                "tags": ["admin"],
                "due_at": "2030-03-03T09:00:00",
                "remind_at": "2030-03-02T09:00:00",
                "timezone": "Europe/Berlin",
                "recurrence_rule": "FREQ=YEARLY",
                "repeat_from": "due",
            },
        )

        async def trail() -> list[str]:
            page = await api(client, "GET", "/api/audit", me, params={"resource_id": task["id"]})
            return [e["event_type"] for e in page["items"]]

        for _ in range(200):
            if {"task.created", "reminder.scheduled"} <= set(await trail()):
                break
            await asyncio.sleep(0.05)
        assert {"task.created", "reminder.scheduled"} <= set(await trail())
        entries = (
            await api(client, "GET", "/api/audit", me, params={"event_type": "task.created"})
        )["items"]
        [scheduled] = (
            await api(client, "GET", "/api/audit", me, params={"event_type": "reminder.scheduled"})
        )["items"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry["event_source"] == "/task-api"
    assert entry["actor_id"] == me["X-User"]
    assert entry["resource_type"] == "task"
    assert entry["metadata"]["task"]["title"] == "Renew passport"
    # The reminder, at 09:00 Berlin time (CET, +01:00) on the day asked, for that task.
    assert scheduled["metadata"]["task_id"] == task["id"]
    assert scheduled["metadata"]["remind_at"] == "2030-03-02T09:00:00+01:00"
    assert scheduled["metadata"]["title"] == "Renew passport"


async def test_completing_a_recurring_task_creates_exactly_one_next_occurrence(
    system: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=system.url) as client:
        _, me = await register(client, system.url)
        first = await api(
            client,
            "POST",
            "/api/tasks",
            me,
            json={
                "title": "Water plants",
                "due_at": "2030-03-08T09:00:00",
                "timezone": "America/New_York",
                "recurrence_rule": "FREQ=DAILY;COUNT=3",
                "remind_at": "2030-03-08T08:45:00",
                "tags": ["home"],
                "priority": "low",
                "description": "the ferns too",
            },
        )
        await api(client, "POST", f"/api/tasks/{first['id']}/complete", me)

        async def active() -> list[dict[str, Any]]:
            page = await api(
                client, "GET", "/api/tasks", me, params={"status": "active", "q": "water plants"}
            )
            return list(page["items"])

        markers = 0

        async def settled() -> None:
            """Until the recurring-task consumer has handled everything before now: it
            takes one user's events in order, so once a later marker series has its next
            occurrence, any doubled occurrence of the series above would exist too."""
            nonlocal markers
            markers += 1
            title = f"Marker {markers}"
            marker = await api(
                client,
                "POST",
                "/api/tasks",
                me,
                json={
                    "title": title,
                    "due_at": "2030-01-01T08:00:00",
                    "recurrence_rule": "FREQ=DAILY",
                },
            )
            await api(client, "POST", f"/api/tasks/{marker['id']}/complete", me)

            async def next_marker() -> bool:
                page = await api(
                    client, "GET", "/api/tasks", me, params={"status": "active", "limit": 100}
                )
                return any(
                    t["series_id"] == marker["series_id"] and t["id"] != marker["id"]
                    for t in page["items"]
                )

            for _ in range(400):
                if await next_marker():
                    return
                await asyncio.sleep(0.05)
            raise AssertionError(f"{title}'s next occurrence never came")

        for _ in range(200):
            if await active():
                break
            await asyncio.sleep(0.05)
        await settled()
        [second] = await active()
        # Across the DST change, still 09:00 on the wall clock.
        assert second["due_at"] == "2030-03-09T09:00:00-05:00"
        assert second["remind_at"] == "2030-03-09T08:45:00-05:00"
        assert second["series_id"] == first["series_id"]
        assert (second["title"], second["tags"], second["priority"], second["description"]) == (
            "Water plants",
            ["home"],
            "low",
            "the ferns too",
        )
        await api(client, "POST", f"/api/tasks/{second['id']}/complete", me)
        for _ in range(200):
            if [t for t in await active() if t["id"] != second["id"]]:
                break
            await asyncio.sleep(0.05)
        [third] = await active()
        assert third["due_at"] == "2030-03-10T09:00:00-04:00"
        await api(client, "POST", f"/api/tasks/{third['id']}/complete", me)
        await settled()
        assert await active() == []  # COUNT=3: completing the last one ends the series
        every = await api(
            client, "GET", "/api/tasks", me, params={"is_recurring": "true", "q": "water plants"}
        )
        assert every["total"] == 3


async def test_a_redelivered_completion_creates_nothing_twice(
    container: Container, system: LiveServer
) -> None:
    import sqlalchemy as sa

    from events import CloudEvent, Topic, outbox_table

    async with httpx.AsyncClient(base_url=system.url) as client:
        _, me = await register(client, system.url)
        task = await api(
            client,
            "POST",
            "/api/tasks",
            me,
            json={
                "title": "Standup",
                "due_at": "2030-01-07T09:30:00",
                "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO,WE,FR",
            },
        )
        await api(client, "POST", f"/api/tasks/{task['id']}/complete", me)
        await eventually(lambda: container.relay.published_total >= 4)
        async with container.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(outbox_table.c.payload).where(
                        outbox_table.c.event_type.in_(
                            ["task.completed", "task.occurrence.generated"]
                        )
                    )
                )
            ).all()
        for row in rows:  # the bus delivers both again, twice
            event = CloudEvent.model_validate_json(row.payload)
            for _ in range(2):
                await container.bus.publish(Topic.TASK_EVENTS, event)
        page = await api(client, "GET", "/api/tasks", me, params={"status": "active"})
    assert page["total"] == 1
    assert page["items"][0]["due_at"].startswith("2030-01-09T09:30")


async def test_skip_moves_to_the_next_occurrence(system: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=system.url) as client:
        _, me = await register(client, system.url)
        task = await api(
            client,
            "POST",
            "/api/tasks",
            me,
            json={
                "title": "Gym",
                "due_at": "2030-01-07T19:00:00",
                "timezone": "Europe/Berlin",
                "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO,TH",
                "remind_at": "2030-01-07T18:30:00",
            },
        )
        skipped = await api(client, "POST", f"/api/tasks/{task['id']}/skip", me)
        assert skipped["due_at"] == "2030-01-10T19:00:00+01:00"
        assert skipped["remind_at"] == "2030-01-10T18:30:00+01:00"
        upcoming = await api(
            client, "GET", f"/api/tasks/{task['id']}/occurrences", me, params={"count": 2}
        )
        assert upcoming["occurrences"] == ["2030-01-10T19:00:00+01:00", "2030-01-14T19:00:00+01:00"]
        plain = await api(client, "POST", "/api/tasks", me, json={"title": "once"})
        refused = await client.post(f"/api/tasks/{plain['id']}/skip", headers=me)
        assert refused.status_code == 422
        last = await api(
            client,
            "POST",
            "/api/tasks",
            me,
            json={
                "title": "twice",
                "due_at": "2030-01-07T10:00:00",
                "recurrence_rule": "FREQ=DAILY;COUNT=1",
            },
        )
        assert (await client.post(f"/api/tasks/{last['id']}/skip", headers=me)).status_code == 409


async def test_a_reminder_fires_once_in_app_and_by_email_on_time(
    system: LiveServer, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    async with httpx.AsyncClient(base_url=system.url) as client:
        token, me = await register(client, system.url)
        await api(
            client,
            "PUT",
            "/api/notifications/preferences",
            me,
            json={"in_app": True, "email": True, "email_address": "ada@example.com"},
        )
        import websockets

        async with websockets.connect(f"{system.ws_url}?token={token}") as socket:
            remind_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
            await api(
                client,
                "POST",
                "/api/tasks",
                me,
                json={
                    "title": "Call the bank",
                    "remind_at": remind_at.isoformat(),
                    "due_at": (remind_at + timedelta(hours=1)).isoformat(),
                },
            )
            pushed: dict[str, Any] = {}
            while pushed.get("type") != "notification":
                pushed = json.loads(await asyncio.wait_for(socket.recv(), 10))
            arrived = datetime.now(UTC)
        assert arrived >= remind_at
        assert pushed["data"]["title"] == "Call the bank"
        await eventually(lambda: len(inbox.messages) == 1)
        assert inbox.messages[0]["To"] == "ada@example.com"
        assert "Call the bank" in inbox.messages[0]["Subject"]
        # A resend after a crash would carry the same Message-ID: the reminder's event id.
        assert re.fullmatch(r"<reminder\.[0-9a-f-]{36}@localhost>", inbox.messages[0]["Message-ID"])
        notes = await api(client, "GET", "/api/notifications", me)
        assert notes["total"] == 1
        note = notes["items"][0]
        assert note["kind"] == "reminder"
        assert note["read_at"] is None
        # The page writes the due time in the reader's zone and format from these.
        due = remind_at + timedelta(hours=1)
        assert datetime.fromisoformat(note["due_at"]) == due
        assert note["timezone"] == pushed["data"]["timezone"]
        read = await api(client, "POST", f"/api/notifications/{note['id']}/read", me)
        assert read["read_at"] is not None
        assert datetime.fromisoformat(read["due_at"]) == due
        await asyncio.sleep(1.0)
        assert (await api(client, "GET", "/api/notifications", me))["total"] == 1
        assert len(inbox.messages) == 1
        trail = await api(
            client, "GET", "/api/audit", me, params={"event_type": "notification.sent"}
        )
        assert sorted(e["metadata"]["channel"] for e in trail["items"]) == ["email", "in_app"]


async def test_moving_completing_or_deleting_cancels_or_reschedules(
    container: Container, system: LiveServer
) -> None:
    async with httpx.AsyncClient(base_url=system.url) as client:
        _, me = await register(client, system.url)
        soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        # kept's reminder comes a second after the others': once it is in, theirs would be too.
        after = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
        later = (datetime.now(UTC) + timedelta(hours=5)).isoformat()
        moved = await api(
            client, "POST", "/api/tasks", me, json={"title": "moved", "remind_at": soon}
        )
        done = await api(
            client, "POST", "/api/tasks", me, json={"title": "done", "remind_at": soon}
        )
        gone = await api(
            client, "POST", "/api/tasks", me, json={"title": "gone", "remind_at": soon}
        )
        kept = await api(
            client, "POST", "/api/tasks", me, json={"title": "kept", "remind_at": after}
        )
        await api(client, "PATCH", f"/api/tasks/{moved['id']}", me, json={"remind_at": later})
        await api(client, "POST", f"/api/tasks/{done['id']}/complete", me)
        await api(client, "DELETE", f"/api/tasks/{gone['id']}", me)
        for _ in range(400):
            notes = await api(client, "GET", "/api/notifications", me)
            if notes["total"]:
                break
            await asyncio.sleep(0.05)
    assert [n["title"] for n in notes["items"]] == [kept["title"]]


async def test_webhooks_are_signed_and_a_failing_channel_does_not_block_the_others(
    container: Container, system: LiveServer
) -> None:
    from testsupport.dapr_standin import LoopbackServer

    received: list[tuple[bytes, dict[str, str]]] = []
    hook = FastAPI()

    @hook.post("/hook")
    async def receive(request: Request) -> dict[str, str]:
        received.append((await request.body(), dict(request.headers)))
        return {"ok": "yes"}

    server = LoopbackServer(hook)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=system.url) as client:
            _, good = await register(client, system.url)
            _, bad = await register(client, system.url)
            secret = "s3cret-s3cret-s3cret"
            await api(
                client,
                "PUT",
                "/api/notifications/preferences",
                good,
                json={"webhook_url": f"{server.url}/hook", "webhook_secret": secret},
            )
            await api(
                client,
                "PUT",
                "/api/notifications/preferences",
                bad,
                json={"webhook_url": "http://127.0.0.1:9/nothing-listens-here"},
            )
            soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
            for headers in (bad, good):
                await api(
                    client, "POST", "/api/tasks", headers, json={"title": "ping", "remind_at": soon}
                )
            await eventually(lambda: len(received) == 1, timeout=15)

            async def failed() -> list[Any]:
                page = await api(
                    client, "GET", "/api/audit", bad, params={"event_type": "notification.failed"}
                )
                return list(page["items"])

            for _ in range(300):
                if await failed():
                    break
                await asyncio.sleep(0.05)
            [failure] = await failed()
            bad_inbox = await api(client, "GET", "/api/notifications", bad)
    finally:
        await server.stop()
    body, headers = received[0]
    expected = (
        "sha256="
        + hmac.new(
            secret.encode(), headers["x-todo-timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
    )
    assert headers["x-todo-signature"] == expected
    assert json.loads(body)["title"] == "ping"
    assert failure["metadata"]["channel"] == "webhook"
    assert bad_inbox["total"] == 1  # in-app still delivered


async def test_a_reminders_channels_go_out_together_so_a_slow_one_holds_up_none(
    system: LiveServer, smtp: tuple[Inbox, int]
) -> None:
    """The mail server accepts the reminder's mail only once its webhook has
    arrived: sent one after the other, the mail would wait for a webhook that
    is not sent yet, and be refused."""
    from testsupport.dapr_standin import LoopbackServer

    inbox, _ = smtp
    arrived = threading.Event()
    hook = FastAPI()

    @hook.post("/hook")
    async def receive() -> dict[str, str]:
        arrived.set()
        return {"ok": "yes"}

    server = LoopbackServer(hook)
    await server.start()
    inbox.waits_for = arrived
    try:
        async with httpx.AsyncClient(base_url=system.url) as client:
            _, me = await register(client, system.url)
            await api(
                client,
                "PUT",
                "/api/notifications/preferences",
                me,
                json={
                    "in_app": True,
                    "email": True,
                    "email_address": "ada@example.com",
                    "webhook_url": f"{server.url}/hook",
                },
            )
            soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
            await api(client, "POST", "/api/tasks", me, json={"title": "rent", "remind_at": soon})

            async def outcomes() -> list[tuple[str, str]]:
                page = await api(client, "GET", "/api/audit", me, params={"limit": 100})
                return sorted(
                    (e["metadata"]["channel"], e["event_type"])
                    for e in page["items"]
                    if e["event_type"].startswith("notification.")
                )

            for _ in range(400):
                if len(await outcomes()) == 3:
                    break
                await asyncio.sleep(0.05)
            found = await outcomes()
    finally:
        await server.stop()
    assert found == [
        ("email", "notification.sent"),
        ("in_app", "notification.sent"),
        ("webhook", "notification.sent"),
    ]
    assert len(inbox.messages) == 1


async def test_a_reminder_to_every_channel_takes_two_transactions_and_its_redelivery_none(
    container: Container, smtp: tuple[Inbox, int]
) -> None:
    from sqlalchemy import event as sa_event

    from events import EventType, new_event
    from services.notification.channels import parse_smtp_url
    from services.notification.delivery import ReminderDelivery
    from services.notification.inbox import Preferences, set_preferences
    from services.shared.auth import accounts
    from tests.conftest import outbox_events
    from testsupport.dapr_standin import LoopbackServer

    inbox, port = smtp
    received: list[bytes] = []
    hook = FastAPI()

    @hook.post("/hook")
    async def receive(request: Request) -> dict[str, str]:
        received.append(await request.body())
        return {"ok": "yes"}

    server = LoopbackServer(hook)
    await server.start()
    begun: list[object] = []

    def began(connection: Any) -> None:
        # A transaction, not an autocommit read (which holds no lock).
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            begun.append(connection)

    try:
        async with container.uow() as uow:
            user = await accounts.ensure_local_user(uow, email="ada@example.com", timezone="UTC")
        async with container.uow() as uow:
            prefs = Preferences(
                in_app=True,
                email=True,
                email_address="ada@example.com",
                webhook_url=f"{server.url}/hook",
            )
            await set_preferences(uow.connection, user.user_id, prefs, allow_private_webhooks=True)
            await uow.commit()
        smtp_target = parse_smtp_url(f"smtp://127.0.0.1:{port}", "todo <todo@localhost>")
        delivery = ReminderDelivery(
            container.uow, smtp_target, reading=container.reading, allow_private_webhooks=True
        )
        task_id, now = uuid.uuid4(), datetime.now(UTC).isoformat()
        reminder = new_event(
            EventType.REMINDER_TRIGGERED,
            source="/recurring-task-service",
            user_id=str(user.user_id),
            subject=str(task_id),
            data={
                "task_id": str(task_id),
                "title": "Pay rent",
                "remind_at": now,
                "due_at": None,
                "timezone": "UTC",
                "fired_at": now,
            },
        )
        sa_event.listen(container.engine.sync_engine, "begin", began)
        try:
            await delivery(reminder)
            first = len(begun)
            begun.clear()
            await delivery(reminder)  # redelivered: every channel already had it
            again = len(begun)
        finally:
            sa_event.remove(container.engine.sync_engine, "begin", began)
    finally:
        await server.stop()
    assert (first, again) == (2, 0)
    assert len(inbox.messages) == 1
    assert len(received) == 1
    events = await outbox_events(container, str(task_id))
    sent = [e for e in events if e.type == "notification.sent"]
    assert sorted(e.data["channel"] for e in sent) == ["email", "in_app", "webhook"]


async def test_audit_is_per_user_and_exports(system: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=system.url) as client:
        _, alice = await register(client, system.url)
        _, bob = await register(client, system.url)
        task = await api(client, "POST", "/api/tasks", alice, json={"title": "=cmd|' /C calc'!A0"})
        await api(client, "PATCH", f"/api/tasks/{task['id']}", alice, json={"priority": "high"})
        for _ in range(200):
            if (await api(client, "GET", "/api/audit", alice))["total"] >= 2:
                break
            await asyncio.sleep(0.05)
        assert (await api(client, "GET", "/api/audit", bob))["total"] == 0
        assert (await api(client, "GET", "/api/audit", bob, params={"resource_id": task["id"]}))[
            "total"
        ] == 0
        as_json = await client.get("/api/audit/export", headers=alice, params={"format": "json"})
        entries = json.loads(as_json.text)
        assert [e["event_type"] for e in entries] == ["task.created", "task.updated"]
        as_csv = await client.get("/api/audit/export", headers=alice, params={"format": "csv"})
        lines = as_csv.text.strip().splitlines()
        assert lines[0].startswith("event_id,event_type")
        assert len(lines) == 3
        assert "attachment" in as_csv.headers["content-disposition"]
        bad = await client.get("/api/audit/export", headers=alice, params={"format": "xml"})
        assert bad.status_code == 422
        window = await api(
            client,
            "GET",
            "/api/audit",
            alice,
            params={"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"},
        )
        assert window["total"] == 0
