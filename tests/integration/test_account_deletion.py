"""Deleting an account removes the user's data from every service."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
import websockets

from assistant.conversations.tables import conversations
from services.audit.trail import audit_logs
from services.bootstrap import Container
from services.notification.tables import notifications, push_subscriptions
from services.recurring.reminders import schedule
from services.shared.tables import deleted_tasks, tasks
from tests.conftest import LiveServer
from tests.integration.events.test_event_flow import eventually, register


async def count(container: Container, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    async with container.engine.connect() as conn:
        return int(
            (
                await conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))
            ).scalar_one()
        )


async def test_deleting_an_account_leaves_nothing_behind(live: LiveServer) -> None:
    container = live.container
    async with httpx.AsyncClient(base_url=live.url) as client:
        token, me = await register(client, live.url)
        _, other = await register(client, live.url)
        kept = (await client.post("/api/tasks", headers=other, json={"title": "bob's"})).json()
        soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        await client.post(
            "/api/tasks", headers=me, json={"title": "Secret plan", "remind_at": soon}
        )
        later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
        await client.post(
            "/api/tasks",
            headers=me,
            json={
                "title": "Later",
                "remind_at": later,
                "recurrence_rule": "FREQ=DAILY",
                "due_at": later,
            },
        )
        gone = (await client.post("/api/tasks", headers=me, json={"title": "Deleted"})).json()
        await client.delete(f"/api/tasks/{gone['id']}", headers=me)  # kept, restorable
        pat = (await client.post("/api/auth/tokens", headers=me, json={"name": "cli"})).json()
        chat = await client.post("/api/chat", headers=me, json={"message": "show my tasks"})
        assert chat.status_code == 200
        feed = (await client.post("/api/calendar/token", headers=me)).json()
        for _ in range(200):
            if (await client.get("/api/notifications", headers=me)).json()["total"]:
                break
            await asyncio.sleep(0.05)
        # The reminder must have fired, or the clean-up below has nothing to delete.
        assert (await client.get("/api/notifications", headers=me)).json()["total"] >= 1
        # A browser subscribed to push (after the reminder fired: nothing is sent to it).
        subscribed = await client.post(
            "/api/notifications/push/subscriptions",
            headers=me,
            json={
                "endpoint": "https://push.example.net/send/deleted-account",
                "keys": {
                    "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-"
                    "AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
                    "auth": "BTBZMqHH6r4Tts7J_aSIgg",
                },
            },
        )
        assert subscribed.status_code == 201, subscribed.text
        email = (await client.get("/api/auth/me", headers=me)).json()["email"]
        user_id = me["X-User"]
        user_uuid = uuid.UUID(user_id)
        async with websockets.connect(f"{live.ws_url}?token={token}") as socket:
            await eventually(lambda: container.realtime.hub.count(user_id) == 1)
            assert (await client.delete("/api/auth/me", headers=me)).status_code == 204
            closing = None
            while closing is None or closing["type"] != "account.deleted":  # skip earlier pushes
                closing = json.loads(await asyncio.wait_for(socket.recv(), 5))
            assert closing["type"] == "account.deleted"
            await asyncio.wait_for(socket.wait_closed(), 5)

        for credential in (me["Authorization"], f"Bearer {pat['token']}"):
            response = await client.get("/api/tasks", headers={"Authorization": credential})
            assert response.status_code == 401
        feed_token = feed["url"].split("token=", 1)[1]
        gone = await client.get("/api/calendar.ics", params={"token": feed_token})
        assert gone.status_code == 404
        with_old = await client.get("/api/auth/me", headers=me)
        assert with_old.status_code == 401

        async def cleaned() -> bool:
            return (
                await count(container, schedule, schedule.c.user_id == user_uuid) == 0
                and await count(container, notifications, notifications.c.user_id == user_uuid) == 0
                and await count(
                    container, push_subscriptions, push_subscriptions.c.user_id == user_uuid
                )
                == 0
            )

        for _ in range(200):
            if await cleaned():
                break
            await asyncio.sleep(0.05)
        assert await cleaned()
        assert await count(container, tasks, tasks.c.user_id == user_uuid) == 0
        assert await count(container, deleted_tasks, deleted_tasks.c.user_id == user_uuid) == 0
        assert await count(container, conversations, conversations.c.user_id == user_uuid) == 0
        for _ in range(200):  # the audit consumer runs at its own pace
            async with container.engine.connect() as conn:
                trail = (
                    await conn.execute(
                        sa.select(audit_logs.c.event_type, audit_logs.c.metadata).where(
                            audit_logs.c.actor_id == user_id
                        )
                    )
                ).all()
            kinds = [kind for kind, _ in trail]
            if "user.deleted" in kinds and kinds.count("task.created") >= 3:
                break
            await asyncio.sleep(0.05)
        # The audit trail keeps what an operator must keep: the tasks' creation
        # and deletion and the account's deletion, with the content erased.
        kinds = [kind for kind, _ in trail]
        assert kinds.count("task.created") == 3, kinds
        assert kinds.count("task.deleted") == 1, kinds
        assert kinds.count("user.deleted") == 1, kinds
        assert all("Secret plan" not in json.dumps(m) for _, m in trail)
        # The other user is untouched; the address can be used again, afresh.
        assert (await client.get(f"/api/tasks/{kept['id']}", headers=other)).status_code == 200
        again = await client.post(
            "/api/auth/register", json={"email": email, "password": "pw-12345678"}
        )
        assert again.status_code == 201
        assert again.json()["id"] != user_id
