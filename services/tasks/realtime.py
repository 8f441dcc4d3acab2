"""Real-time fan-out: every change of a user's tasks reaches every open
WebSocket of that user, whichever replica holds the socket.

On Kafka every task-api process reads `task-events` (and the in-app
notifications) itself, outside any consumer group, and delivers each change to
its own sockets. Through Dapr, or on the memory bus, the app consumes them in
one group and the handler hands each change to a `Fanout`: with Redis
(REDIS_URL) it publishes on a Redis channel every replica listens to; without
it, it delivers in-process.
"""

import asyncio
import json
import logging
from collections import OrderedDict, defaultdict
from typing import Any, Protocol

from fastapi import WebSocket

from events import CloudEvent, EventType, Topic
from events.bus import Subscription
from events.stopping import cancel_and_wait

log = logging.getLogger(__name__)
CHANNEL = "todo:realtime"
PUSHED_TYPES = {
    EventType.TASK_CREATED,
    EventType.TASK_UPDATED,
    EventType.TASK_COMPLETED,
    EventType.TASK_DELETED,
}
REALTIME_GROUP = "task-api-realtime"


# Event ids remembered per connected user, to drop redeliveries.
_SEEN_EVENTS = 2048


class _Sent:
    """What one socket was sent: recent event ids and, per task, the newest
    version. The bus delivers at least once, a consumer-group rebalance can
    replay a stretch of a partition, and a resumed socket gets both the replay
    and the live feed; a change seen before is dropped here instead of reaching
    the page twice or after a newer one."""

    def __init__(self) -> None:
        self.events: OrderedDict[str, None] = OrderedDict()
        self.versions: dict[str, int] = {}

    def is_new(self, message: dict[str, Any]) -> bool:
        event_id = message.get("event_id")
        if isinstance(event_id, str):
            if event_id in self.events:
                return False
            self.events[event_id] = None
            if len(self.events) > _SEEN_EVENTS:
                self.events.popitem(last=False)
        data = message.get("data")
        task = data.get("task") if isinstance(data, dict) else None
        if isinstance(task, dict):
            task_id, version = task.get("id"), task.get("version")
            if isinstance(task_id, str) and isinstance(version, int):
                if version < self.versions.get(task_id, 0):
                    return False  # older than what the page already has
                self.versions[task_id] = version
        return True


class _Socket:
    """One open socket: what it was sent and, while it catches up on what it
    missed, the live messages held back until the catch-up is written."""

    def __init__(self, held: bool) -> None:
        self.sent = _Sent()
        self.held: list[dict[str, Any]] | None = [] if held else None


def change_message(event: CloudEvent) -> dict[str, Any]:
    """What a socket receives for a task change (live or replayed)."""
    return {"type": event.type, "data": event.data, "event_id": event.id}


class ConnectionHub:
    """The WebSockets open on this replica, by user."""

    def __init__(self) -> None:
        self._sockets: dict[str, dict[WebSocket, _Socket]] = defaultdict(dict)

    def add(self, user_id: str, socket: WebSocket, *, hold: bool = False) -> None:
        """Register a socket; with `hold`, live messages wait for `release`."""
        self._sockets[user_id][socket] = _Socket(held=hold)

    def remove(self, user_id: str, socket: WebSocket) -> None:
        sockets = self._sockets.get(user_id)
        if sockets is None:
            return
        sockets.pop(socket, None)
        if not sockets:
            del self._sockets[user_id]

    def count(self, user_id: str | None = None) -> int:
        if user_id is None:
            return sum(len(s) for s in self._sockets.values())
        return len(self._sockets.get(user_id, ()))

    async def replay(self, user_id: str, socket: WebSocket, events: list[CloudEvent]) -> None:
        """Write what a resuming socket missed, ahead of the held live feed."""
        state = self._sockets.get(user_id, {}).get(socket)
        if state is None:
            return
        for event in events:
            if event.type in PUSHED_TYPES:
                await self._write(user_id, socket, state, change_message(event))

    async def release(self, user_id: str, socket: WebSocket) -> None:
        """Deliver the live messages held during the catch-up, then go live."""
        state = self._sockets.get(user_id, {}).get(socket)
        while state is not None and state.held:
            message = state.held.pop(0)
            if not await self._write(user_id, socket, state, message):
                return
        if state is not None:
            state.held = None

    async def send(self, user_id: str, message: dict[str, Any]) -> None:
        for socket, state in list(self._sockets.get(user_id, {}).items()):
            if state.held is not None:
                state.held.append(dict(message))
                continue
            await self._write(user_id, socket, state, dict(message))

    async def _write(
        self, user_id: str, socket: WebSocket, state: _Socket, message: dict[str, Any]
    ) -> bool:
        closing = bool(message.pop("close", False))
        if not state.sent.is_new(message):
            return True
        try:
            await socket.send_json(message)
            if closing:  # the account is gone, and so is its live feed
                await socket.close(code=4401, reason="account deleted")
        except Exception:  # a closed socket is dropped, the others still get it
            self.remove(user_id, socket)
            return False
        if closing:
            self.remove(user_id, socket)
            return False
        return True


class Fanout(Protocol):
    async def broadcast(self, user_id: str, message: dict[str, Any]) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class LocalFanout:
    def __init__(self, hub: ConnectionHub) -> None:
        self._hub = hub

    async def broadcast(self, user_id: str, message: dict[str, Any]) -> None:
        await self._hub.send(user_id, message)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisFanout:
    """Publishes on one Redis channel; every replica's listener pushes to its
    own sockets."""

    def __init__(self, hub: ConnectionHub, redis_url: str) -> None:
        import redis.asyncio as redis

        self._hub = hub
        self._redis = redis.Redis.from_url(redis_url)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def broadcast(self, user_id: str, message: dict[str, Any]) -> None:
        await self._redis.publish(CHANNEL, json.dumps({"user_id": user_id, "message": message}))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="realtime-redis")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._ready.set()
                    async for item in pubsub.listen():
                        if item.get("type") != "message":
                            continue
                        body = json.loads(item["data"])
                        await self._hub.send(str(body["user_id"]), body["message"])
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarted: resubscribe after a pause
                log.exception("realtime listener lost Redis; reconnecting")
                await asyncio.sleep(1)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        await self._redis.aclose()


def realtime_subscriptions(fanout: Fanout, *, every_process: bool = False) -> list[Subscription]:
    """`every_process`: each process reads the topics itself (a bus that takes
    such subscriptions), so `fanout` is that process's own `LocalFanout`."""

    async def task_changes(event: CloudEvent) -> None:
        if event.type == EventType.USER_DELETED:
            closing = {"type": "account.deleted", "data": {}, "event_id": event.id, "close": True}
            await fanout.broadcast(event.userid, closing)
            return
        if event.type not in PUSHED_TYPES:
            return
        await fanout.broadcast(event.userid, change_message(event))

    async def notifications(event: CloudEvent) -> None:
        # In-app notifications pop up live; other channels are not pushed.
        if event.type != EventType.NOTIFICATION_SENT or event.data.get("channel") != "in_app":
            return
        message = {
            "type": "notification",
            "data": event.data.get("notification", {}),
            "event_id": event.id,
        }
        await fanout.broadcast(event.userid, message)

    return [
        Subscription(Topic.TASK_EVENTS, REALTIME_GROUP, task_changes, every_process=every_process),
        Subscription(
            Topic.NOTIFICATION_EVENTS, REALTIME_GROUP, notifications, every_process=every_process
        ),
    ]
