"""Benchmark 2: list and search latency on a large table, API against raw SQL.

The API runs as a subprocess on a seeded database (see `bench.seed`); the
client is logged in as the heavy user. Every request is paired with the SQL
the API should be doing for it, written by hand for PostgreSQL and run with
asyncpg: the count and the page, same filters, same LIMIT/OFFSET. Requests
run one at a time, API and raw interleaved, after a warm-up.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from bench.common import Database, database, ratio, recreate_database, summarize
from bench.seed import Seeded, SeedSpec, existing, seed
from bench.server import ApiServer
from services.shared.tables import tasks as tasks_table

HEAVY_EMAIL = "heavy@bench.example.com"
HEAVY_PASSWORD = "bench password 1"
HEAVY_TIMEZONE = "Europe/Berlin"
TARGET = 3.0
SELECTIVE, COMMON, TWO_WORDS = "harpsichord", "review", "call dentist"
# The columns the API reads: its own table definition.
COLUMNS = ", ".join(column.name for column in tasks_table.columns)
NEWEST = "created_at DESC, id DESC"
LIMIT = 20


@dataclass(frozen=True, slots=True)
class SearchConfig:
    database: str
    seed: SeedSpec
    repeats: int
    warmup: int


FULL = SearchConfig("todo_bench", SeedSpec(1_000_000, 1000, 100_000), repeats=200, warmup=20)
QUICK = SearchConfig("todo_bench_quick", SeedSpec(20_000, 50, 10_000), repeats=20, warmup=3)


@dataclass(frozen=True, slots=True)
class Case:
    """One request, and the SQL it should cost: `where` extends `user_id = $1`."""

    name: str
    params: dict[str, str]
    where: str = ""
    args: tuple[Any, ...] = ()
    order: str = NEWEST
    page: int = 1
    search: bool = False

    def sql(self) -> tuple[str, str]:
        base = f"FROM tasks WHERE user_id = $1{self.where}"
        n = len(self.args) + 2
        page = f"SELECT {COLUMNS} {base} ORDER BY {self.order} LIMIT ${n} OFFSET ${n + 1}"
        return f"SELECT count(*) {base}", page


def _text(name: str, q: str) -> Case:
    query = " & ".join(f"{w}:*" for w in q.lower().split())
    return Case(
        name,
        {"q": q},
        where=" AND search_vector @@ to_tsquery('english', $2)",
        args=(query,),
        order=f"ts_rank(search_vector, to_tsquery('english', $2)) DESC, {NEWEST}",
        search=True,
    )


def cases(anchor: datetime) -> list[Case]:
    tz = ZoneInfo(HEAVY_TIMEZONE)
    first, last = anchor.date() + timedelta(days=30), anchor.date() + timedelta(days=59)
    start = datetime.combine(first, clock(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), clock(), tzinfo=tz).astimezone(UTC)
    return [
        Case("list, default sort", {}),
        Case(
            "active, by due_at asc",
            {"status": "active", "sort_by": "due_at", "sort_order": "asc"},
            where=" AND status = $2",
            args=("active",),
            order=f"due_at ASC NULLS LAST, {NEWEST}",
        ),
        Case(
            "priority=high, tags=work",
            {"priority": "high", "tags": "work"},
            where=" AND priority = $2 AND tags @> $3::varchar(50)[]",
            args=("high", ["work"]),
        ),
        Case(
            "due window (30 days)",
            {"due_after": first.isoformat(), "due_before": last.isoformat()},
            where=" AND due_at >= $2 AND due_at < $3",
            args=(start, end),
        ),
        _text(f"q={SELECTIVE} (selective)", SELECTIVE),
        _text(f"q={COMMON} (common)", COMMON),
        _text(f"q={TWO_WORDS} (two words)", TWO_WORDS),
        Case("deep page (page=200)", {"page": "200"}, page=200),
    ]


class Raw:
    def __init__(self, conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
        self._conn = conn
        self._user_id = user_id

    async def run(self, case: Case) -> tuple[int, list[str]]:
        count_sql, page_sql = case.sql()
        args = (self._user_id, *case.args)
        total = await self._conn.fetchval(count_sql, *args)
        rows = await self._conn.fetch(page_sql, *args, LIMIT, (case.page - 1) * LIMIT)
        return int(total), [str(r["id"]) for r in rows]


async def _api(client: httpx.AsyncClient, case: Case) -> tuple[int, list[str]]:
    response = await client.get("/api/tasks", params=case.params)
    if response.status_code != 200:
        raise RuntimeError(f"{case.name}: {response.status_code} {response.text[:300]}")
    body = response.json()
    return int(body["total"]), [item["id"] for item in body["items"]]


async def _measure(
    case: Case, client: httpx.AsyncClient, raw: Raw, cfg: SearchConfig
) -> dict[str, Any]:
    api_result, raw_result = await _api(client, case), await raw.run(case)
    for _ in range(cfg.warmup):
        await _api(client, case)
        await raw.run(case)
    api_times: list[float] = []
    raw_times: list[float] = []
    for _ in range(cfg.repeats):
        start = time.perf_counter()
        await _api(client, case)
        api_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        await raw.run(case)
        raw_times.append(time.perf_counter() - start)
    api, rawsum = summarize(api_times), summarize(raw_times)
    return {
        "name": case.name,
        "params": case.params,
        "search": case.search,
        "matches": raw_result[0],
        "same_result": api_result == raw_result,
        "api": api.as_dict(),
        "raw": rawsum.as_dict(),
        "ratio_p50": round(ratio(api.p50, rawsum.p50), 2),
        "ratio_p95": round(ratio(api.p95, rawsum.p95), 2),
        "raw_sql": case.sql(),
    }


async def _prepare(
    db: Database, cfg: SearchConfig, log: Callable[[str], None]
) -> tuple[Seeded | None, bool]:
    found = await existing(db, cfg.seed)
    if found is None:
        log(f"seeding {db.name}: {cfg.seed.total_tasks:,} tasks (this happens once)")
        await recreate_database(db)
    else:
        log(f"{db.name} already holds the seed ({cfg.seed.total_tasks:,} tasks): reusing it")
    return found, found is None


async def run(cfg: SearchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    db = database(cfg.database)
    seeded, fresh = await _prepare(db, cfg, log)
    results: list[dict[str, Any]] = []
    async with ApiServer(db) as server:
        if fresh:
            heavy = uuid.UUID(await server.register(HEAVY_EMAIL, HEAVY_PASSWORD, HEAVY_TIMEZONE))
            seeded = await seed(db, cfg.seed, heavy, HEAVY_TIMEZONE, log)
        assert seeded is not None
        token = await server.login(HEAVY_EMAIL, HEAVY_PASSWORD)
        conn = await asyncpg.connect(db.dsn)
        client = httpx.AsyncClient(
            base_url=server.base_url, headers={"authorization": f"Bearer {token}"}, timeout=60.0
        )
        try:
            raw = Raw(conn, seeded.heavy_user_id)
            for case in cases(seeded.anchor):
                result = await _measure(case, client, raw, cfg)
                results.append(result)
                log(
                    f"{case.name}: api p95 {result['api']['p95_ms']:.1f} ms, raw p95 "
                    f"{result['raw']['p95_ms']:.1f} ms, ratio {result['ratio_p95']}"
                )
            memory = server.memory()
        finally:
            await client.aclose()
            await conn.close()
    return {
        "config": asdict(cfg),
        "seed": {"reused": seeded.reused, "seconds": round(seeded.seconds, 1),
                 "anchor": seeded.anchor.isoformat()},
        "target_search_ratio_p95": TARGET,
        "cases": results,
        "server_memory": memory,
    }
