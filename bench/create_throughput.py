"""Benchmark 1: task creation throughput, POST /api/tasks against the floor.

Each create carries an id the client drew, as the web page's do. The floor
is the same durable work done with raw asyncpg at the same concurrency: per
task one transaction inserting the task row and its outbox event (the event
built as the service builds it). The floor writes to a
database of its own, so the API's outbox relay never publishes its rows.
Rounds alternate floor and API so drift of a noisy machine hits both; each
side reports its median round. After the API's last create, the time its
relay needs to publish what is still pending is measured too.
"""

import asyncio
import contextlib
import itertools
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
import asyncpg

from bench.common import (
    Database,
    Summary,
    database,
    ratio,
    recreate_database,
    summarize,
    writable_columns,
)
from bench.create_floor import TIMEZONE, Bodies, RawSide, raw_user
from bench.server import ApiServer, cpu_seconds

API_DATABASE = "todo_bench_write"
RAW_DATABASE = "todo_bench_write_raw"
WORKERS_DATABASE = "todo_bench_write_workers"
KAFKA_DATABASE = "todo_bench_write_kafka"
DRAIN_TIMEOUT = 60.0
PASSWORD = "bench password 1"
TARGET = 1 / 3


@dataclass(frozen=True, slots=True)
class CreateConfig:
    tasks: int
    warmup: int
    concurrency: int
    rounds: int
    # The API also as this many task-api worker processes (Kafka and Redis), when > 1.
    workers: int = 2


FULL = CreateConfig(tasks=3000, warmup=300, concurrency=32, rounds=3)
QUICK = CreateConfig(tasks=300, warmup=50, concurrency=32, rounds=1)
TARGET_P99 = 3.0
KEEPALIVE_S = 2.0


@dataclass(frozen=True, slots=True)
class Round:
    side: str
    tasks: int
    seconds: float
    latency: Summary
    server_cpu_s: float | None
    client_cpu_s: float

    @property
    def per_second(self) -> float:
        return self.tasks / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "tasks": self.tasks,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 1),
            "latency": self.latency.as_dict(),
            "server_cpu_s": self.server_cpu_s,
            "client_cpu_s": round(self.client_cpu_s, 3),
        }


async def _drive(
    count: int, concurrency: int, one: Callable[[], Awaitable[bool]]
) -> tuple[float, list[float]]:
    """Run `one` `count` times, `concurrency` at a time; wall time and the
    latencies of the calls that did their work (`one` returned True). A
    rejected call is no work done: it is not timed, and its caller counts it."""
    counter = itertools.count()
    latencies: list[float] = []

    async def worker() -> None:
        while next(counter) < count:
            start = time.perf_counter()
            if await one():
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


class ApiSide:
    """POST /api/tasks over kept-alive connections, one per concurrent caller.

    The load generator shares the machine's cores with the API and its
    database, so it is a lean client (aiohttp): with httpx it spent more CPU
    per create (2.8 ms) than the API itself, which the raw side never pays."""

    def __init__(self, server: ApiServer, token: str, concurrency: int) -> None:
        self._url = f"{server.base_url}/api/tasks"
        self._bodies = Bodies(1)
        self._headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        # Idle connections are dropped before the server's keep-alive timeout
        # (uvicorn: 5 s) closes them under a request being sent.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=KEEPALIVE_S),
            timeout=aiohttp.ClientTimeout(total=60.0),
        )
        self.failures: list[str] = []

    async def one(self) -> bool:
        """One create; False (and the answer kept as a failure) unless it was made."""
        # With an id of the client's, as the web page creates (a create sent again
        # after a lost answer then finds its task instead of adding it twice).
        body = json.dumps({"id": str(uuid.uuid4()), **self._bodies.next()})
        try:
            async with self._session.post(self._url, data=body, headers=self._headers) as response:
                if response.status != 201:
                    self.failures.append(f"{response.status} {(await response.text())[:200]}")
                    return False
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")
            return False
        return True

    async def aclose(self) -> None:
        await self._session.close()


async def _measure(
    side: str, cfg: CreateConfig, one: Callable[[], Awaitable[bool]], server_pid: int | None
) -> Round:
    server_cpu = cpu_seconds(server_pid) if server_pid else 0.0
    client_cpu = time.process_time()
    seconds, latencies = await _drive(cfg.tasks, cfg.concurrency, one)
    if not latencies:
        raise RuntimeError(f"{side}: every one of {cfg.tasks} creates was rejected")
    return Round(
        side=side,
        tasks=len(latencies),
        seconds=seconds,
        latency=summarize(latencies),
        server_cpu_s=round(cpu_seconds(server_pid) - server_cpu, 3) if server_pid else None,
        client_cpu_s=time.process_time() - client_cpu,
    )


async def _counts(db: Database) -> dict[str, int]:
    conn = await asyncpg.connect(db.dsn)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM tasks) AS tasks, (SELECT count(*) FROM outbox) AS outbox"
        )
    finally:
        await conn.close()
    assert row is not None
    return {"tasks": row["tasks"], "outbox": row["outbox"]}


async def _drain_seconds(db: Database) -> float | None:
    """How long until the API's relay has published every outbox row (None: not in time)."""
    conn = await asyncpg.connect(db.dsn)
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < DRAIN_TIMEOUT:
            if not await conn.fetchval("SELECT count(*) FROM outbox_pending"):
                return time.perf_counter() - start
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    return None


def workers_env(workers: int) -> dict[str, str] | None:
    """What several task-api workers share (Kafka and Redis), from the environment;
    None when either is missing or one worker is asked for."""
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    redis = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if workers < 2 or not kafka or not redis:
        return None
    return {
        "EVENT_BUS": "kafka",
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "KAFKA_GROUP_PREFIX": f"bench-create-{uuid.uuid4().hex[:8]}-",
        "REDIS_URL": redis,
        "WORKERS": str(workers),
    }


async def run(cfg: CreateConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Raw asyncpg, the API as one process (memory bus) and, where Kafka and Redis
    are at hand, the API as `cfg.workers` worker processes, in alternating rounds."""
    shared = workers_env(cfg.workers)
    if cfg.workers > 1 and shared is None:
        log("no KAFKA_BOOTSTRAP_SERVERS or REDIS_URL: the API runs as one process only")
    apis: list[tuple[str, Database, dict[str, str] | None]] = [
        ("api", database(API_DATABASE), None)
    ]
    if shared is not None:
        # One process on the same Kafka and Redis tells the workers' gain from the
        # distributed setup's own cost.
        apis.append(("api-kafka", database(KAFKA_DATABASE), {**shared, "WORKERS": "1"}))
        apis.append(("api-workers", database(WORKERS_DATABASE), shared))
    raw_db = database(RAW_DATABASE)
    for db in (raw_db, *(db for _, db, _ in apis)):
        await recreate_database(db)
    rounds: list[Round] = []
    drains: list[float | None] = []
    memory: dict[str, dict[str, Any]] = {}
    callers: list[ApiSide] = []
    async with contextlib.AsyncExitStack() as stack:
        pool = await asyncpg.create_pool(
            raw_db.dsn, min_size=cfg.concurrency, max_size=cfg.concurrency
        )
        assert pool is not None
        stack.push_async_callback(pool.close)
        async with pool.acquire() as conn:
            columns = await writable_columns(conn, "tasks")
        raw = RawSide(pool, await raw_user(raw_db), columns)
        sides: list[tuple[str, Callable[[], Awaitable[bool]], ApiServer | None]] = [
            ("raw", raw.one, None)
        ]
        for name, db, env in apis:
            server = await stack.enter_async_context(ApiServer(db, extra_env=env))
            await server.register(f"{name}@bench.example.com", PASSWORD, TIMEZONE)
            token = await server.login(f"{name}@bench.example.com", PASSWORD)
            caller = ApiSide(server, token, cfg.concurrency)
            stack.push_async_callback(caller.aclose)
            callers.append(caller)
            sides.append((name, caller.one, server))
        log(f"warm-up: {cfg.warmup} tasks each side ({', '.join(s[0] for s in sides)})")
        for _, one, _ in sides:
            await _drive(cfg.warmup, cfg.concurrency, one)
        for _, db, _ in apis:
            await _drain_seconds(db)
        for n in range(cfg.rounds):
            for side, one, api_server in sides:
                result = await _measure(side, cfg, one, api_server.pid if api_server else None)
                rounds.append(result)
                if api_server is not None:
                    drained = await _drain_seconds(api_server.db)
                    if side == "api":
                        drains.append(drained)
                log(f"round {n + 1} {side}: {result.per_second:,.0f} tasks/s")
            if any(caller.failures for caller in callers):
                break
        for side, _, api_server in sides:
            if api_server is not None:
                memory[side] = api_server.memory()
    rejected = [failure for caller in callers for failure in caller.failures]
    if rejected:
        # Rejected requests are not work done: the run is not a measurement.
        raise RuntimeError(
            f"create benchmark FAILED: {len(rejected)} of the API's creates were"
            f" rejected (errors), e.g. {rejected[0]}"
        )
    expected = cfg.warmup + cfg.tasks * cfg.rounds
    for db in (raw_db, *(db for _, db, _ in apis)):
        counts = await _counts(db)
        if counts != {"tasks": expected, "outbox": expected}:
            raise RuntimeError(f"{db.name}: expected {expected} tasks and events, found {counts}")
    return _result(cfg, rounds, memory, drains)


def _result(
    cfg: CreateConfig,
    rounds: list[Round],
    memory: dict[str, dict[str, Any]],
    drains: list[float | None],
) -> dict[str, Any]:
    def median(side: str) -> float:
        return statistics.median(r.per_second for r in rounds if r.side == side)

    def median_p99(side: str) -> float:
        return statistics.median(r.latency.p99 for r in rounds if r.side == side)

    api, raw = median("api"), median("raw")
    p99_ratio = ratio(median_p99("api"), median_p99("raw"))
    api_rounds = [r for r in rounds if r.side == "api"]
    return {
        "config": asdict(cfg),
        "api_tasks_per_s": round(api, 1),
        "raw_rows_per_s": round(raw, 1),
        "ratio_api_over_raw": round(ratio(api, raw), 3),
        "target_ratio": round(TARGET, 3),
        "meets_target": ratio(api, raw) >= TARGET,
        "ratio_p99_api_over_raw": round(p99_ratio, 3),
        "target_p99_ratio": TARGET_P99,
        "meets_p99_target": p99_ratio <= TARGET_P99,
        "errors": 0,
        "server_cpu_ms_per_task": round(
            1000 * sum(r.server_cpu_s or 0 for r in api_rounds) / sum(r.tasks for r in api_rounds),
            2,
        ),
        "client_cpu_ms_per_api_task": round(
            1000 * sum(r.client_cpu_s for r in api_rounds) / sum(r.tasks for r in api_rounds), 2
        ),
        "relay_drain_s_after_round": [None if d is None else round(d, 3) for d in drains],
        "server_memory": memory["api"],
        **_workers(cfg, rounds, memory),
        "rounds": [r.as_dict() for r in rounds],
    }


def _workers(
    cfg: CreateConfig, rounds: list[Round], memory: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The API as several worker processes against the same raw rounds, and against
    one process on the same Kafka and Redis (empty when they did not run)."""
    ran = [r for r in rounds if r.side == "api-workers"]
    if not ran:
        return {}
    raws = [r for r in rounds if r.side == "raw"]
    per_s = statistics.median(r.per_second for r in ran)
    one = statistics.median(r.per_second for r in rounds if r.side == "api-kafka")
    raw = statistics.median(r.per_second for r in raws)
    p99 = ratio(
        statistics.median(r.latency.p99 for r in ran),
        statistics.median(r.latency.p99 for r in raws),
    )
    return {
        "workers": cfg.workers,
        "workers_tasks_per_s": round(per_s, 1),
        "ratio_workers_over_raw": round(ratio(per_s, raw), 3),
        "workers_meet_target": ratio(per_s, raw) >= TARGET,
        "ratio_p99_workers_over_raw": round(p99, 3),
        "workers_server_cpu_ms_per_task": round(
            1000 * sum(r.server_cpu_s or 0 for r in ran) / sum(r.tasks for r in ran), 2
        ),
        "workers_server_memory": memory["api-workers"],
        "kafka_one_worker_tasks_per_s": round(one, 1),
        "ratio_workers_over_one_worker": round(ratio(per_s, one), 3),
    }
