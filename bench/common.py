"""What every benchmark shares: its own databases, statistics, small helpers."""

import os
import socket
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from alembic.config import Config
from alembic.script import ScriptDirectory

import services.migrations
from services.migrations.runner import upgrade_async

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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Summary:
    """Latencies in milliseconds."""

    n: int
    p50: float
    p95: float
    mean: float

    def as_dict(self) -> dict[str, float]:
        return {"n": self.n, "p50_ms": self.p50, "p95_ms": self.p95, "mean_ms": self.mean}


def summarize(seconds: Sequence[float]) -> Summary:
    if not seconds:
        raise ValueError("no samples")
    ms = sorted(s * 1000 for s in seconds)
    if len(ms) == 1:
        return Summary(1, ms[0], ms[0], ms[0])
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return Summary(len(ms), q[49], q[94], statistics.fmean(ms))


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("inf")


class Stopwatch:
    def __init__(self) -> None:
        self._start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._start
