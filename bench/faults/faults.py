"""The fault schedule: what is broken when, and how long the system took to
answer again afterwards."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.faults.checker import FaultWindow
from bench.faults.stack import REPLICAS, Stack
from events.kafka import DEPLOYMENT_HEADER


@dataclass
class Fault:
    name: str
    at: float  # fraction of the run's duration
    hold: float  # seconds the fault lasts before it is undone
    excuses: frozenset[str] = frozenset()


SCHEDULE = (
    Fault("Kafka broker SIGKILL + restart", 0.12, 5.0),
    Fault("recurring-task SIGKILL + restart", 0.26, 3.0),
    Fault("notification SIGKILL + restart", 0.34, 3.0),
    Fault("task-api-2 SIGKILL + restart", 0.44, 5.0, frozenset({"task-api-2"})),
    Fault("PostgreSQL restart", 0.60, 2.0, frozenset({"*"})),
    Fault("Kafka broker frozen (SIGSTOP/SIGCONT)", 0.76, 8.0),
)
POISON_AT = 0.52
POISONED_COUNT = 3


@dataclass
class Outcome:
    fault: Fault
    start: float
    undone: float
    ready: float  # every service answers /readyz again
    recovered: float  # a change made after the fault was undone reached the audit trail

    @property
    def window(self) -> FaultWindow:
        return FaultWindow(self.fault.name, self.start, self.ready, self.fault.excuses)


@dataclass
class Injector:
    stack: Stack
    engine: AsyncEngine
    t0: float
    token: str
    outcomes: list[Outcome] = field(default_factory=list)
    poisoned: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    last_probe_error: str = ""

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def _blocking(self, work: Callable[[], None]) -> None:
        await asyncio.to_thread(work)

    def actions(
        self, fault: Fault
    ) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
        s = self.stack
        if fault.name.startswith("Kafka broker SIGKILL"):
            return (lambda: self._blocking(s.kill_broker)), (lambda: self._blocking(s.start_broker))
        if fault.name.startswith("Kafka broker frozen"):
            return (lambda: self._blocking(s.pause_broker)), (
                lambda: self._blocking(s.resume_broker)
            )
        if fault.name.startswith("PostgreSQL"):
            return (lambda: self._blocking(s.stop_postgres)), (
                lambda: self._blocking(s.start_postgres)
            )
        name = fault.name.split()[0]

        async def kill() -> None:
            s.kill_service(name)

        async def start() -> None:
            s.start_service(name)

        return kill, start

    async def probe(self) -> float:
        """Make a change through a replica and wait until audit recorded it."""
        urls = [self.stack.url(r) for r in REPLICAS]
        task_id = None
        async with httpx.AsyncClient(timeout=5) as client:
            while task_id is None:
                for url in urls:
                    try:
                        r = await client.post(
                            f"{url}/api/tasks",
                            headers={"Authorization": f"Bearer {self.token}"},
                            json={"title": "recovery probe", "tags": ["probe"]},
                        )
                        if r.status_code == 201:
                            task_id = r.json()["id"]
                            break
                    except httpx.HTTPError:
                        pass
                else:
                    await asyncio.sleep(0.2)
        query = sa.text("SELECT count(*) FROM audit_logs WHERE resource_id = :id")
        while True:
            try:
                async with self.engine.connect() as conn:
                    if (await conn.execute(query, {"id": task_id})).scalar_one():
                        return self.now()
            except Exception as exc:
                self.last_probe_error = repr(exc)
            await asyncio.sleep(0.2)

    async def inject(self, fault: Fault) -> None:
        do, undo = self.actions(fault)
        start = self.now()
        self.log.append(f"t={start:.1f}s {fault.name}: injected")
        await do()
        await asyncio.sleep(fault.hold)
        await undo()
        undone = self.now()
        await self.stack.all_ready(limit=180)
        ready = self.now()
        recovered = await self.probe()
        self.log.append(f"t={recovered:.1f}s {fault.name}: recovered")
        self.outcomes.append(Outcome(fault, start, undone, ready, recovered))

    async def poison(self) -> None:
        """Publish unparseable records to task-events: every consumer group
        of that topic must put each in the DLQ, once."""
        from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

        producer = AIOKafkaProducer(bootstrap_servers=self.stack.kafka)
        await producer.start()
        try:
            for _ in range(POISONED_COUNT):
                meta = await producer.send_and_wait(
                    "task-events",
                    json.dumps({"poisoned": uuid.uuid4().hex}).encode()[:-1],  # cut: not JSON
                    key=b"poison",
                    # Consumers handle only their own deployment's records.
                    headers=[(DEPLOYMENT_HEADER, self.stack.prefix.encode())],
                )
                self.poisoned.append(f"kafka:{meta.topic}/{meta.partition}/{meta.offset}")
        finally:
            await producer.stop()
        self.log.append(f"t={self.now():.1f}s published {POISONED_COUNT} poisoned records")

    async def run(self, duration: float, faults: bool) -> None:
        plan: list[tuple[float, Callable[[], Awaitable[None]]]] = [
            (POISON_AT * duration, self.poison)
        ]
        if faults:
            for fault in SCHEDULE:
                plan.append((fault.at * duration, lambda f=fault: self.inject(f)))  # type: ignore[misc]
        for at, action in sorted(plan, key=lambda p: p[0]):
            delay = at - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            await action()
