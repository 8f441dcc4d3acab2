"""Benchmark: the outbox purge, on a PostgreSQL outbox holding a day of events.

The outbox keeps every event for the relay's retention (a day), and the relay
purges what is older once a minute. What that costs must follow what it
deletes, not the size of the table: at a thousand events a second, a day is
86 million rows.

The outbox is filled with `rows` sent events (about 1 KB each, as tasks'
are). Each round makes the oldest `old` of them older than the retention,
then times, interleaved:
- the purge (`OutboxRelay.purge`) deleting them, walking the ids in chunks;
- the same purge again, with nothing left to delete (what most minutes are);
- floors: one read of the whole table by time, as a purge without the walk
  must do (`SELECT count(*) … WHERE created_at < cutoff`, no index on it), and
  a raw DELETE of the same number of old rows by id range, with no checks.

Headline ratios (medians): `idle_purge_vs_scan`, the idle purge over the full
read (a purge that scanned the table would be about 1); and
`purge_vs_raw_delete`, the purge of the old rows over the raw delete.
"""

import statistics
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.common import Database, database, ratio, recreate_database, runner_of
from events.relay import OutboxRelay
from services.shared.db import create_engine

DATABASE = "todo_bench_purge"
PAYLOAD_BYTES = 900


@dataclass(frozen=True, slots=True)
class PurgeConfig:
    rows: int
    old: int
    rounds: int


FULL = PurgeConfig(rows=1_000_000, old=50_000, rounds=3)
QUICK = PurgeConfig(rows=20_000, old=1_000, rounds=1)


class _Publisher:
    """The purge publishes nothing; the relay needs a publisher to exist."""

    async def publish(self, topic: str, event: Any) -> None:
        raise AssertionError("the purge benchmark publishes nothing")


async def _fill(conn: asyncpg.Connection, rows: int) -> None:
    """`rows` events written now, already sent (nothing queued)."""
    await conn.execute(
        "INSERT INTO outbox (event_id, topic, event_type, partition_key, payload, created_at)"
        " SELECT 'bench-' || n, 'task-events', 'task.updated', 'user-' || (n % 500),"
        " repeat('x', $2), now() FROM generate_series(1, $1) AS n",
        rows,
        PAYLOAD_BYTES,
    )
    await conn.execute("DELETE FROM outbox_pending")
    await conn.execute("VACUUM ANALYZE outbox")
    await conn.execute("VACUUM ANALYZE outbox_pending")


async def _age_oldest(conn: asyncpg.Connection, count: int, when: datetime) -> tuple[int, int]:
    """The oldest `count` events now date from `when`; their first and last ids."""
    ids = await conn.fetchrow(
        "WITH first AS (SELECT id FROM outbox ORDER BY id LIMIT $1)"
        " SELECT min(id) AS low, max(id) AS high FROM first",
        count,
    )
    assert ids is not None, "the outbox is empty"
    low, high = int(ids["low"]), int(ids["high"])
    await conn.execute(
        "UPDATE outbox SET created_at = $3 WHERE id BETWEEN $1 AND $2", low, high, when
    )
    await conn.execute("VACUUM outbox")
    return low, high


async def _timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work
    return time.perf_counter() - started, result


async def run(cfg: PurgeConfig, log: Any) -> dict[str, Any]:
    db: Database = database(DATABASE)
    await recreate_database(db)
    engine = create_engine(db.url, pool_size=2)
    relay = OutboxRelay(engine, _Publisher())
    conn = await asyncpg.connect(db.dsn)
    samples: dict[str, list[float]] = {"purge": [], "idle_purge": [], "scan": [], "raw_delete": []}
    purged: list[int] = []
    try:
        log(f"filling the outbox with {cfg.rows:,} events")
        await _fill(conn, cfg.rows)
        old = datetime.now(UTC) - relay.retention - timedelta(hours=1)
        cutoff = datetime.now(UTC) - relay.retention
        for number in range(cfg.rounds):
            await _age_oldest(conn, cfg.old, old)
            seconds, removed = await _timed(relay.purge())
            samples["purge"].append(seconds)
            purged.append(removed)
            samples["idle_purge"].append((await _timed(relay.purge()))[0])
            seconds, _ = await _timed(
                conn.fetchval("SELECT count(*) FROM outbox WHERE created_at < $1", cutoff)
            )
            samples["scan"].append(seconds)
            low, high = await _age_oldest(conn, cfg.old, old)
            seconds, _ = await _timed(
                conn.execute("DELETE FROM outbox WHERE id BETWEEN $1 AND $2", low, high)
            )
            samples["raw_delete"].append(seconds)
            log(
                f"  round {number + 1}: purge {samples['purge'][-1] * 1000:.1f} ms"
                f" ({removed:,} events), idle {samples['idle_purge'][-1] * 1000:.2f} ms,"
                f" full read {samples['scan'][-1] * 1000:.1f} ms,"
                f" raw delete {samples['raw_delete'][-1] * 1000:.1f} ms"
            )
        left = int(await conn.fetchval("SELECT count(*) FROM outbox"))
    finally:
        await conn.close()
        await engine.dispose()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "config": asdict(cfg),
        "purged_per_round": purged,
        "events_left": left,
        "median_ms": {name: round(value * 1000, 2) for name, value in medians.items()},
        "samples_ms": {
            name: [round(v * 1000, 2) for v in values] for name, values in samples.items()
        },
        "idle_purge_vs_scan": round(ratio(medians["idle_purge"], medians["scan"]), 4),
        "purge_vs_raw_delete": round(ratio(medians["purge"], medians["raw_delete"]), 3),
    }


def render(result: dict[str, Any]) -> list[str]:
    cfg, ms = result["config"], result["median_ms"]
    return [
        f"Outbox purge ({cfg['rows']:,} events, {cfg['old']:,} of them old per round;"
        f" medians of {cfg['rounds']})",
        f"  purge of the old events      {ms['purge']:>9.2f} ms"
        f"   raw delete by id {ms['raw_delete']:>9.2f} ms"
        f"   ratio {result['purge_vs_raw_delete']}",
        f"  purge with nothing old       {ms['idle_purge']:>9.2f} ms"
        f"   full read by time {ms['scan']:>8.2f} ms"
        f"   ratio {result['idle_purge_vs_scan']}",
    ]


runner = runner_of(run, render, FULL, QUICK)


__all__ = ["FULL", "QUICK", "PurgeConfig", "render", "run", "runner"]
