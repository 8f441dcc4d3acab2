"""What every benchmark shares: its own databases, statistics, small helpers."""

import os
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from alembic.config import Config
from alembic.script import ScriptDirectory

import services.migrations
from services.migrations.runner import upgrade_async

Log = Callable[[str], None]
# A benchmark as `python -m bench` runs it: (quick, log) -> its result.
Runner = Callable[[bool, Log], Coroutine[Any, Any, dict[str, Any]]]
BenchConfig = TypeVar("BenchConfig")

# The test suite resets this one; benchmarks never connect to it.
FORBIDDEN_DATABASES = frozenset({"todo_test", "postgres", "template0", "template1"})


@dataclass(frozen=True, slots=True)
class Database:
    """One benchmark database on the test server, as a libpq DSN and a SQLAlchemy URL."""

    name: str
    dsn: str
    url: str


def server_dsn() -> str:
    dsn = os.environ.get("TEST_POSTGRES_DSN")
    if not dsn:
        raise SystemExit(
            "TEST_POSTGRES_DSN is not set: run `make bench`, or "
            'eval "$(scripts/test-services.sh env)" first'
        )
    return dsn


def _with_path(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database(name: str) -> Database:
    if name in FORBIDDEN_DATABASES:
        raise ValueError(f"refusing to use database {name!r}")
    dsn = _with_path(server_dsn(), name)
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    return Database(name=name, dsn=dsn, url=url)


async def database_exists(db: Database) -> bool:
    conn = await asyncpg.connect(_with_path(server_dsn(), "postgres"))
    try:
        found = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db.name)
    finally:
        await conn.close()
    return found is not None


async def recreate_database(db: Database) -> None:
    """Drop and create `db` empty, then apply the migrations."""
    if db.name in FORBIDDEN_DATABASES:
        raise ValueError(f"refusing to drop database {db.name!r}")
    conn = await asyncpg.connect(_with_path(server_dsn(), "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{db.name}"')
    finally:
        await conn.close()
    await upgrade_async(db.url)


async def server_version() -> str:
    conn = await asyncpg.connect(_with_path(server_dsn(), "postgres"))
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def head_revision() -> str:
    """The migration revision the code in this tree expects."""
    config = Config()
    config.set_main_option("script_location", os.path.dirname(services.migrations.__file__))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


async def writable_columns(
    conn: "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]", table: str
) -> list[str]:
    """The table's columns as migrated (generated ones left out), in order."""
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position",
        table,
    )
    return [r["column_name"] for r in rows]


@dataclass(frozen=True, slots=True)
class Summary:
    """Latencies in milliseconds."""

    n: int
    p50: float
    p95: float
    mean: float
    p99: float

    def as_dict(self) -> dict[str, float]:
        return {
            "n": self.n,
            "p50_ms": self.p50,
            "p95_ms": self.p95,
            "p99_ms": self.p99,
            "mean_ms": self.mean,
        }


def percentile_cuts(values: Sequence[float]) -> list[float]:
    """The 99 cut points p1..p99 of `values` (inclusive method; index k-1 is pk).
    A single value is every percentile."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered * 99
    return statistics.quantiles(ordered, n=100, method="inclusive")


def summarize(seconds: Sequence[float]) -> Summary:
    if not seconds:
        raise ValueError("no samples")
    ms = [s * 1000 for s in seconds]
    q = percentile_cuts(ms)
    return Summary(len(ms), q[49], q[94], statistics.fmean(ms), q[98])


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("inf")


class Stopwatch:
    def __init__(self) -> None:
        self._start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._start


def runner_of(
    run: Callable[[BenchConfig, Log], Awaitable[dict[str, Any]]],
    render: Callable[[dict[str, Any]], list[str]],
    full: BenchConfig,
    quick: BenchConfig,
) -> Runner:
    """A benchmark's entry for `python -m bench`: run the full or the quick
    configuration, then log the report lines `render` makes of the result."""

    async def runner(quick_run: bool, log: Log) -> dict[str, Any]:
        result = await run(quick if quick_run else full, log)
        for line in render(result):
            log(line)
        return result

    return runner
