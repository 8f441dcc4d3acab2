"""The PostgreSQL pool: at most DB_POOL_SIZE connections, kept once opened.

More callers than connections wait for one; none fails, and no connection is
opened and closed per caller (each would make PostgreSQL fork a backend)."""

import asyncio

import sqlalchemy as sa

from services.shared.db import create_engine

POOL = 3
CALLERS = 12
ROUNDS = 4


async def test_callers_beyond_the_pool_wait_on_the_same_few_connections(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url, pool_size=POOL)
    backends: set[int] = set()
    busy = 0
    most_busy = 0

    async def caller() -> None:
        nonlocal busy, most_busy
        async with engine.connect() as conn:
            busy += 1
            most_busy = max(most_busy, busy)
            # The connection is held across a server round trip, so the callers overlap.
            pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
            await conn.execute(sa.text("SELECT pg_sleep(0.005)"))
            backends.add(pid)
            busy -= 1

    try:
        for _ in range(ROUNDS):
            await asyncio.gather(*(caller() for _ in range(CALLERS)))
    finally:
        await engine.dispose()
    assert most_busy == POOL, f"{most_busy} callers held a connection at once, pool of {POOL}"
    assert len(backends) == POOL, (
        f"{len(backends)} server processes served {CALLERS * ROUNDS} callers: connections "
        f"were opened beyond the pool of {POOL}, or closed and opened again"
    )
