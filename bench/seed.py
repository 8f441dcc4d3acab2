"""Fast seeding of the search benchmark's database with COPY (not the API).

Tasks are written in creation order with the owners interleaved, as a live
table would be; the secondary indexes are dropped for the load and rebuilt
from their own definitions afterwards, then the table is vacuumed and analysed.
A `bench_seed` row records what was seeded, so a rerun can skip all this.
"""

import json
import random
import uuid
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from bench.common import Database, Stopwatch, head_revision, writable_columns
from bench.words import PRIORITIES, RULES, ZONES, TextMaker, pick_priority, pick_tags

SEED_VERSION = 1
CHUNK = 50_000
HISTORY = timedelta(days=730)
USER_COLUMNS = ("id", "email", "password_hash", "display_name", "timezone", "is_local",
                "created_at")
DUE_TIMES = (time(9), time(12), time(17), time(23, 59))


@dataclass(frozen=True, slots=True)
class SeedSpec:
    total_tasks: int
    users: int
    heavy_tasks: int
    version: int = SEED_VERSION


@dataclass(frozen=True, slots=True)
class Seeded:
    heavy_user_id: uuid.UUID
    anchor: datetime
    seconds: float
    reused: bool


META_DDL = """
CREATE TABLE IF NOT EXISTS bench_seed (
    spec text PRIMARY KEY, heavy_user_id uuid NOT NULL, anchor timestamptz NOT NULL,
    seconds double precision NOT NULL, seeded_at timestamptz NOT NULL DEFAULT now())
"""


async def existing(db: Database, spec: SeedSpec) -> Seeded | None:
    """The seed already in `db` if it matches `spec` row for row, else None."""
    try:
        conn = await asyncpg.connect(db.dsn)
    except asyncpg.InvalidCatalogNameError:
        return None
    try:
        if await conn.fetchval("SELECT to_regclass('bench_seed')") is None:
            return None
        if await conn.fetchval("SELECT version_num FROM alembic_version") != head_revision():
            return None  # seeded under an older schema: seed again
        row = await conn.fetchrow(
            "SELECT heavy_user_id, anchor, seconds FROM bench_seed WHERE spec = $1",
            json.dumps(asdict(spec), sort_keys=True),
        )
        if row is None:
            return None
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM tasks) AS tasks,"
            " (SELECT count(*) FROM tasks WHERE user_id = $1) AS heavy",
            row["heavy_user_id"],
        )
    finally:
        await conn.close()
    assert counts is not None
    if (counts["users"], counts["tasks"], counts["heavy"]) != (
        spec.users, spec.total_tasks, spec.heavy_tasks
    ):
        return None
    return Seeded(row["heavy_user_id"], row["anchor"], row["seconds"], reused=True)


class _Rows:
    """Generates the task rows; deterministic for a given seed."""

    def __init__(
        self, spec: SeedSpec, anchor: datetime, owners: list[tuple[uuid.UUID, str]]
    ) -> None:
        self._rng = random.Random(20_240_601)
        self._text = TextMaker(self._rng)
        self._spec = spec
        self._anchor = anchor
        self._owners = owners
        self._zones = {tz: ZoneInfo(tz) for _, tz in owners}

    def owner_sequence(self) -> "array[int]":
        """Owner index of every row: exactly `heavy_tasks` for owner 0, the
        rest spread evenly over the others, shuffled together."""
        spec, others = self._spec, len(self._owners) - 1
        rest = spec.total_tasks - spec.heavy_tasks
        seq = array("H", [0] * spec.heavy_tasks)
        for k in range(1, others + 1):
            seq.extend([k] * (rest // others + (1 if k <= rest % others else 0)))
        self._rng.shuffle(seq)
        return seq

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)

    def _due(self, tz: ZoneInfo) -> datetime:
        day = self._anchor.date() + timedelta(days=self._rng.randrange(-90, 275))
        local = datetime.combine(day, self._rng.choice(DUE_TIMES), tzinfo=tz)
        return local.astimezone(UTC)

    def row(self, i: int, owner: int) -> dict[str, Any]:
        """One task as the service would store it, by column name."""
        rng, anchor = self._rng, self._anchor
        user_id, tz_name = self._owners[owner]
        task_id = self._uuid()
        created = anchor - HISTORY + HISTORY * (i / self._spec.total_tasks)
        created += timedelta(seconds=rng.randrange(600))
        due = self._due(self._zones[tz_name]) if rng.random() < 0.7 else None
        done = rng.random() < (0.6 if due is not None and due < anchor else 0.1)
        completed = min(anchor, created + timedelta(hours=rng.randrange(1, 480))) if done else None
        remind = (
            due - timedelta(hours=1)
            if due is not None and due > anchor and rng.random() < 0.15
            else None
        )
        rule = rng.choice(RULES) if due is not None and rng.random() < 0.07 else None
        version = rng.choice((1, 1, 1, 2, 3))
        edited = min(anchor, created + timedelta(hours=rng.randrange(1, 240)))
        priority = pick_priority(rng)
        return {
            "id": task_id, "user_id": user_id, "title": self._text.title(),
            "description": self._text.description(),
            "status": "completed" if done else "active", "completed_at": completed,
            "priority": priority, "priority_rank": PRIORITIES.index(priority),
            "tags": pick_tags(rng), "due_at": due, "remind_at": remind, "timezone": tz_name,
            "recurrence_rule": rule, "repeat_from": "due", "series_id": task_id,
            "occurrence_at": due if rule else None, "series_start_at": due if rule else None,
            "sequence": 1, "exdates": "[]", "created_at": created,
            "updated_at": completed or (edited if version > 1 else created),
            "version": version + (1 if done else 0),
        }


async def _secondary_indexes(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS ddl FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = 'tasks'::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        " ORDER BY 1"
    )
    return [(r["name"], r["ddl"]) for r in rows]


async def seed(
    db: Database,
    spec: SeedSpec,
    heavy_user_id: uuid.UUID,
    heavy_timezone: str,
    progress: Callable[[str], None],
) -> Seeded:
    """Fill a freshly migrated `db`; the heavy user already exists (made through the API)."""
    watch = Stopwatch()
    anchor = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    others = [
        (uuid.UUID(int=random.Random(k).getrandbits(128), version=4), ZONES[k % len(ZONES)])
        for k in range(1, spec.users)
    ]
    owners = [(heavy_user_id, heavy_timezone), *others]
    conn = await asyncpg.connect(db.dsn)
    try:
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.copy_records_to_table(
            "users",
            columns=USER_COLUMNS,
            records=[
                (uid, f"user{k:04d}@bench.example.com", None, f"User {k}", tz, False,
                 anchor - HISTORY - timedelta(days=1))
                for k, (uid, tz) in enumerate(others, start=1)
            ],
        )
        indexes = await _secondary_indexes(conn)
        for name, _ in indexes:
            await conn.execute(f'DROP INDEX "{name}"')
        known = _Rows(spec, anchor, owners).row(0, 0).keys()
        columns = [c for c in await writable_columns(conn, "tasks") if c in known]
        rows = _Rows(spec, anchor, owners)
        sequence = rows.owner_sequence()
        for start in range(0, spec.total_tasks, CHUNK):
            stop = min(start + CHUNK, spec.total_tasks)
            records = [
                tuple(row[c] for c in columns)
                for row in (rows.row(i, sequence[i]) for i in range(start, stop))
            ]
            await conn.copy_records_to_table("tasks", columns=columns, records=records)
            progress(f"seeded {stop:,}/{spec.total_tasks:,} tasks ({watch.elapsed:.0f} s)")
        for name, ddl in indexes:
            await conn.execute(ddl)
            progress(f"rebuilt index {name} ({watch.elapsed:.0f} s)")
        await conn.execute("VACUUM (ANALYZE) users")
        await conn.execute("VACUUM (ANALYZE) tasks")
        await conn.execute(META_DDL)
        await conn.execute(
            "INSERT INTO bench_seed (spec, heavy_user_id, anchor, seconds) VALUES ($1, $2, $3, $4)",
            json.dumps(asdict(spec), sort_keys=True), heavy_user_id, anchor, watch.elapsed,
        )
    finally:
        await conn.close()
    return Seeded(heavy_user_id, anchor, watch.elapsed, reused=False)
