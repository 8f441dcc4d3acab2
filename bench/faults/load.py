"""The load driver: many users at once over loopback, bounded in count and
time, each with a WebSocket listener, spreading requests over the task-api
replicas and retrying a refused connection on the other one.

It shares the machine's cores with the stack it drives, so its HTTP client is
a lean one (aiohttp): what the driver spends is taken from the services."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import websockets

from bench.faults.checker import Ack, Reminder, Response, WsMessage, WsSession

OPS = (
    ("create", 30),
    ("update", 20),
    ("complete", 10),
    ("recurring", 10),
    ("reminder", 6),
    ("search", 14),
    ("chat", 10),
)
CHANGE_TYPES = {"task.created", "task.updated", "task.completed", "task.deleted"}


@dataclass
class Sample:
    at: float  # seconds since the run began
    op: str
    latency: float
    ok: bool


@dataclass
class Record:
    """Everything the users saw, for the checker and the report."""

    t0: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)
    reminder_titles: dict[str, str] = field(default_factory=dict)  # title → task id
    sessions: list[WsSession] = field(default_factory=list)
    ws_messages: list[WsMessage] = field(default_factory=list)
    retries: int = 0
    gave_up: int = 0
    resyncs: int = 0
    ws_duplicates: int = 0
    failures: Counter[str] = field(default_factory=Counter)

    def now(self) -> float:
        return time.monotonic() - self.t0


@dataclass(frozen=True, slots=True)
class Answer:
    """A response, read whole."""

    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class Api:
    """Requests over the replicas: round robin, and the other replica when
    one refuses the connection."""

    def __init__(
        self, urls: dict[str, str], record: Record, session: aiohttp.ClientSession
    ) -> None:
        self.urls = urls
        self.names = list(urls)
        self.record = record
        self.session = session
        self._turn = random.randrange(len(self.names))

    async def request(self, method: str, url: str, token: str | None, **kw: Any) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(method, url, headers=headers, **kw) as response:
            return Answer(response.status, await response.text())

    async def call(
        self, method: str, path: str, token: str | None = None, what: str | None = None, **kw: Any
    ) -> Answer | None:
        for attempt in range(12):
            self._turn += 1
            name = self.names[self._turn % len(self.names)]
            try:
                response = await self.request(method, self.urls[name] + path, token, **kw)
            except (aiohttp.ClientError, TimeoutError):
                self.record.retries += 1
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
                continue
            self.record.responses.append(
                Response(self.record.now(), name, response.status_code, what or f"{method} {path}")
            )
            if response.status_code >= 500:
                self.record.retries += 1
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
                continue
            return response
        self.record.gave_up += 1
        return None


class User:
    def __init__(
        self, n: int, api: Api, record: Record, sink_webhook: str, end: float, notification_url: str
    ) -> None:
        self.n = n
        self.notification_url = notification_url
        self.api = api
        self.record = record
        self.webhook = sink_webhook
        self.end = end  # run-relative second at which the load stops
        self.email = f"load-{uuid.uuid4().hex[:10]}@example.com"
        self.token = ""
        self.user_id = ""
        self.last_event_id = ""  # the live feed resumes after it
        self.seen_events: set[str] = set()
        self.active: dict[str, dict[str, Any]] = {}
        self.rng = random.Random(n)

    async def sign_up(self) -> None:
        password = "load-password-123"
        r = await self.api.call(
            "POST", "/api/auth/register", json={"email": self.email, "password": password}
        )
        if r is None or r.status_code not in (201, 409):
            raise RuntimeError(f"register failed: {r and r.text}")
        r = await self.api.call(
            "POST", "/api/auth/login", json={"email": self.email, "password": password}
        )
        if r is None or r.status_code != 200:
            raise RuntimeError(f"login failed: {r and r.text}")
        self.token = r.json()["access_token"]
        me = await self.api.call("GET", "/api/auth/me", self.token)
        assert me is not None
        self.user_id = str(me.json()["id"])
        prefs = {"email": True, "email_address": self.email, "webhook_url": self.webhook}
        # The channel preferences belong to the notification service.
        r = await self.api.request(
            "PUT", f"{self.notification_url}/api/notifications/preferences", self.token, json=prefs
        )
        if r.status_code != 200:
            raise RuntimeError(f"preferences failed: {r.text}")

    def ack(self, event_type: str, task: dict[str, Any]) -> None:
        self.record.acks.append(
            Ack(
                self.user_id,
                str(task["id"]),
                event_type,
                int(task["version"]),
                self.record.now(),
                series_id=str(task.get("series_id")) if task.get("series_id") else None,
                recurring=bool(task.get("is_recurring")),
            )
        )

    async def timed(self, op: str, work: Any) -> None:
        start = time.monotonic()
        ok = bool(await work)
        self.record.samples.append(Sample(start - self.record.t0, op, time.monotonic() - start, ok))

    async def create(self, **extra: Any) -> dict[str, Any] | None:
        # The id is the client's, so a create retried after a lost answer (a replica
        # killed after its commit) finds the task (200) instead of adding a second one.
        body = {
            "id": str(uuid.uuid4()),
            "title": f"load task {self.rng.randrange(10**6)}",
            "tags": ["load"],
            **extra,
        }
        r = await self.api.call("POST", "/api/tasks", self.token, what="POST /api/tasks", json=body)
        if r is None or r.status_code not in (200, 201):
            return None
        task: dict[str, Any] = r.json()
        self.ack("task.created", task)
        return task

    async def op_create(self) -> bool:
        task = await self.create()
        if task:
            self.active[task["id"]] = task
        return task is not None

    async def op_update(self) -> bool:
        if not self.active:
            return await self.op_create()
        task_id = self.rng.choice(list(self.active))
        r = await self.api.call(
            "PATCH",
            f"/api/tasks/{task_id}",
            self.token,
            what="PATCH /api/tasks/{id}",
            json={"priority": self.rng.choice(["low", "medium", "high"])},
        )
        if r is None or r.status_code != 200:
            return False
        self.ack("task.updated", r.json())
        return True

    async def complete(self, task_id: str) -> bool:
        r = await self.api.call(
            "POST",
            f"/api/tasks/{task_id}/complete",
            self.token,
            what="POST /api/tasks/{id}/complete",
        )
        if r is None or r.status_code != 200:
            return False
        self.ack("task.completed", r.json())
        return True

    async def op_complete(self) -> bool:
        if not self.active:
            return await self.op_create()
        task_id = self.rng.choice(list(self.active))
        self.active.pop(task_id)
        return await self.complete(task_id)

    async def op_recurring(self) -> bool:
        due = datetime.now(UTC) + timedelta(days=1)
        task = await self.create(
            due_at=due.isoformat(), recurrence_rule="FREQ=DAILY", timezone="UTC"
        )
        return task is not None and await self.complete(task["id"])

    async def op_reminder(self) -> bool:
        lead = self.rng.uniform(10, 40)
        if self.record.now() + lead > self.end - 15:
            return await self.op_search()
        at = datetime.now(UTC) + timedelta(seconds=lead)
        title = f"reminder {uuid.uuid4().hex[:12]}"
        task = await self.create(
            title=title, remind_at=at.isoformat(), due_at=(at + timedelta(hours=1)).isoformat()
        )
        if task is None:
            return False
        self.record.reminders.append(Reminder(self.user_id, task["id"], self.record.now() + lead))
        self.record.reminder_titles[title] = task["id"]
        return True

    async def op_search(self) -> bool:
        r = await self.api.call(
            "GET",
            "/api/tasks",
            self.token,
            what="GET /api/tasks",
            params={"q": "load", "status": "active", "limit": 20},
        )
        return r is not None and r.status_code == 200

    async def op_chat(self) -> bool:
        r = await self.api.call(
            "POST",
            "/api/chat",
            self.token,
            what="POST /api/chat",
            json={"message": "show my tasks tagged load"},
        )
        if r is not None and r.status_code == 200 and "event: done" in r.text:
            return True
        if r is None:
            cause = "no answer from any replica"
        elif r.status_code != 200:
            cause = f"HTTP {r.status_code}"
        elif "event: error" in r.text:
            detail = r.text.split("event: error", 1)[1].split("data:", 1)[-1].strip()
            cause = f"error event {detail.splitlines()[0][:120] if detail else ''}"
        else:
            cause = "stream ended without done or error"
        self.record.failures[f"chat: {cause}"] += 1
        return False

    async def run(self) -> None:
        names = [name for name, _ in OPS]
        weights = [w for _, w in OPS]
        while self.record.now() < self.end:
            op = self.rng.choices(names, weights)[0]
            await self.timed(op, getattr(self, f"op_{op}")())
            await asyncio.sleep(self.rng.uniform(0.05, 0.3))

    async def listen(self, urls: list[str], stop: asyncio.Event) -> None:
        """One WebSocket listener, reconnecting (to the other replica first)
        when its connection drops and resuming after the last change it got
        (`since`), as the page does."""
        turn = self.n
        listener = f"u{self.n}"
        while not stop.is_set():
            turn += 1
            base = urls[turn % len(urls)].replace("http://", "ws://")
            since = f"&since={self.last_event_id}" if self.last_event_id else ""
            try:
                async with websockets.connect(
                    f"{base}/ws?token={self.token}{since}", open_timeout=5
                ) as ws:
                    connected = self.record.now()
                    try:
                        while not stop.is_set():
                            try:
                                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
                            except TimeoutError:
                                continue
                            self.on_message(listener, raw)
                            if json.loads(raw).get("type") == "ping":
                                await ws.send(json.dumps({"type": "pong"}))
                    finally:
                        self.record.sessions.append(
                            WsSession(
                                listener,
                                self.user_id,
                                connected,
                                None if stop.is_set() else self.record.now(),
                            )
                        )
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError):
                await asyncio.sleep(0.3)

    def on_message(self, listener: str, raw: str | bytes) -> None:
        message = json.loads(raw)
        if message.get("type") == "resync":  # the feed could not resume: changes were lost
            self.record.resyncs += 1
        data = message.get("data") or {}
        data = data.get("task", data)  # task events carry the task under "task"
        if message.get("type") in CHANGE_TYPES and "id" in data and "version" in data:
            event_id = str(message.get("event_id") or "")
            if event_id in self.seen_events:  # at least once: dropped by id, as the page does
                self.record.ws_duplicates += 1
                return
            self.seen_events.add(event_id)
            self.last_event_id = event_id or self.last_event_id
            self.record.ws_messages.append(
                WsMessage(
                    listener,
                    message["type"],
                    str(data["id"]),
                    int(data["version"]),
                    self.record.now(),
                )
            )
