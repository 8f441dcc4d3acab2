"""The whole system in this process, as tests/e2e runs it: `bootstrap(...)`
with every service (`--service all`), the app served by uvicorn on loopback,
plus recording subscriptions of the benchmark's own.

A backend is a bus and a database: the memory bus on SQLite (a file in a
temporary directory) or PostgreSQL (a benchmark database of its own,
recreated), or Kafka on PostgreSQL (a unique consumer-group prefix, groups
started at the topics' end).
"""

import asyncio
import bisect
import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn

from bench.common import database, recreate_database
from events.bus import Subscription
from events.cloudevents import CloudEvent
from events.relay import OutboxRelay
from events.topics import EventType
from services.app import build_app
from services.bootstrap import Container, bootstrap
from services.composition import process_of, start_process
from services.migrations.runner import upgrade_async
from services.tasks.schemas import TaskCreate
from services.tasks.service import task_event, task_from_request
from testsupport.kafka import start_groups_at_the_end
from testsupport.ports import free_port

PASSWORD = "bench password 1"
START_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Backend:
    bus: str  # "memory" | "kafka"
    database: str  # "sqlite" | "postgres"

    @property
    def name(self) -> str:
        return f"{self.bus}/{self.database}"


MEMORY_SQLITE = Backend("memory", "sqlite")
MEMORY_POSTGRES = Backend("memory", "postgres")
KAFKA_POSTGRES = Backend("kafka", "postgres")


class CommitClock:
    """When the commits that wrote outbox events happened.

    The unit of work calls the relay's `notify` right after such a commit;
    this wraps it (on the instance, for this process only) to note the time.
    With `forward = False` the relay is not woken: the control that shows
    what a relay waiting for its poll would cost.
    """

    def __init__(self, relay: OutboxRelay) -> None:
        self.times: list[float] = []
        self.forward = True
        wake = relay.notify

        def notify() -> None:
            self.times.append(time.perf_counter())
            if self.forward:
                wake()

        relay.notify = notify  # type: ignore[method-assign]

    def first_after(self, moment: float) -> float | None:
        """The first commit at or after `moment` (perf_counter seconds)."""
        i = bisect.bisect_left(self.times, moment)
        return self.times[i] if i < len(self.times) else None


class Recorder:
    """A consumer that notes when it handled each event, by a key of the event."""

    def __init__(self, key: Callable[[CloudEvent], str | None]) -> None:
        self._key = key
        self.seen: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.events: dict[str, CloudEvent] = {}
        self._waiters: dict[str, asyncio.Future[float]] = {}
        self.duplicates = 0

    async def __call__(self, event: CloudEvent) -> None:
        now, wall = time.perf_counter(), time.time()
        key = self._key(event)
        if key is None:
            return
        if key in self.seen:
            self.duplicates += 1  # a redelivery: the first delivery counts
            return
        self.seen[key], self.wall[key], self.events[key] = now, wall, event
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)

    async def wait(self, key: str, limit: float) -> float | None:
        """When `key` was handled, waiting at most `limit` seconds; None if not."""
        if key in self.seen:
            return self.seen[key]
        waiter = self._waiters.setdefault(key, asyncio.get_running_loop().create_future())
        try:
            async with asyncio.timeout(limit):
                return await waiter
        except TimeoutError:
            return None
        finally:
            self._waiters.pop(key, None)


def created_event(user_id: uuid.UUID, body: dict[str, Any], timezone: str) -> CloudEvent:
    """The `task.created` event the task service emits for this request body,
    built by its own code (`TaskCreate`, `task_from_request`, `task_event`)."""
    task = task_from_request(
        TaskCreate.model_validate(body), user_id=user_id, default_timezone=timezone
    )
    return task_event(EventType.TASK_CREATED, task)


def task_created_id(event: CloudEvent) -> str | None:
    if event.type != "task.created":
        return None
    return str(event.data.get("task", {}).get("id"))


class System:
    """`async with System(backend, name, subscriptions) as system:` a running system."""

    def __init__(
        self,
        backend: Backend,
        db_name: str,
        subscriptions: Sequence[Subscription],
        *,
        kafka: str | None = None,
        serve: bool = True,
        settings: dict[str, Any] | None = None,
    ) -> None:
        """`settings` overrides what the container is bootstrapped with."""
        self.backend = backend
        self._settings = dict(settings or {})
        self._db_name = db_name
        self._subscriptions = list(subscriptions)
        self._kafka = kafka
        self._serve = serve
        self._tmp = tempfile.TemporaryDirectory(prefix="todo-bench-events-")
        self.container: Container | None = None
        self.clock: CommitClock | None = None
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None

    async def _database_url(self) -> str:
        if self.backend.database == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(self._tmp.name) / 'todo.db'}"
            await upgrade_async(url)
            return url
        db = database(self._db_name)
        await recreate_database(db)
        return db.url

    async def __aenter__(self) -> Self:
        overrides: dict[str, Any] = {
            "database_url": await self._database_url(),
            "event_bus": self.backend.bus,
            "service_name": "all",
            "data_dir": Path(self._tmp.name),
            "jwt_private_key_file": None,
            "local_user": False,
            "default_timezone": "UTC",
            "redis_url": None,
            "smtp_url": None,
        }
        if self.backend.bus == "kafka":
            assert self._kafka is not None, "Kafka backend without a broker"
            overrides |= {
                "kafka_bootstrap_servers": self._kafka,
                "kafka_group_prefix": f"bench-{uuid.uuid4().hex[:8]}-",
            }
        container = bootstrap(**overrides, **self._settings)
        self.container = container
        self.clock = CommitClock(container.relay)
        container.extra_subscriptions.extend(self._subscriptions)
        if self.backend.bus == "kafka":
            assert self._kafka is not None
            await start_groups_at_the_end(
                self._kafka,
                [*process_of(container).subscriptions, *self._subscriptions],
                prefix=container.settings.kafka_group_prefix,
            )
        try:
            if self._serve:
                await self._start_server(container)
            else:
                await start_process(container)
        except BaseException:
            await self._stop()
            raise
        return self

    async def _start_server(self, container: Container) -> None:
        port = free_port()
        config = uvicorn.Config(
            build_app(container),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
        )
        server = uvicorn.Server(config)
        self._server = server
        self._serving = asyncio.create_task(server.serve(), name="bench-uvicorn")
        self.base_url = f"http://127.0.0.1:{port}"
        async with asyncio.timeout(START_TIMEOUT):
            while not server.started:
                if self._serving.done():
                    self._serving.result()
                    raise RuntimeError("the app stopped at start-up")
                await asyncio.sleep(0.02)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._serving  # the lifespan closes the container
        elif self.container is not None:
            await self.container.aclose()
        self._tmp.cleanup()

    # --- an account, through the API ------------------------------------------

    async def user(self, client: httpx.AsyncClient, timezone: str = "UTC") -> dict[str, str]:
        """Register and log in a new user; return the request headers."""
        email = f"bench-{uuid.uuid4().hex[:10]}@bench.example.com"
        response = await client.post(
            "/api/auth/register",
            json={"email": email, "password": PASSWORD, "timezone": timezone},
        )
        if response.status_code != 201:
            raise RuntimeError(f"register failed: {response.status_code} {response.text}")
        response = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        if response.status_code != 200:
            raise RuntimeError(f"login failed: {response.status_code} {response.text}")
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=30.0)
