"""The PostgreSQL pool: at most DB_POOL_SIZE connections, kept once opened.

More callers than connections wait for one; none fails, and no connection is
opened and closed per caller (each would make PostgreSQL fork a backend). A
connection that failed under a statement run on the driver is discarded."""

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from events.runtime import is_outage
from services.shared.db import create_engine, driver_execute, reader

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


async def _backend(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_that_failed_under_the_driver_is_not_handed_out_again(
    postgres_url: str,
) -> None:
    # `driver_execute` runs a statement past SQLAlchemy, which therefore does not
    # see its errors: it must discard the connection itself, or the pool of one
    # would hand the dead connection to every caller after.
    engine = create_engine(postgres_url, pool_size=1)
    autocommit = reader(engine)
    try:
        dead = await _backend(autocommit)
        admin = create_engine(postgres_url, pool_size=1)
        try:
            async with admin.connect() as conn:
                await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
        finally:
            await admin.dispose()
        with pytest.raises(sa.exc.DisconnectionError) as failed:
            async with autocommit.connect() as conn:
                await driver_execute(conn, "SELECT 1")
        assert is_outage(failed.value), repr(failed.value)

        async with autocommit.connect() as conn:
            await driver_execute(conn, "SELECT $1::int", 1)
        assert await _backend(autocommit) != dead
    finally:
        await engine.dispose()


async def test_the_driver_refuses_a_statement_inside_a_transaction(postgres_url: str) -> None:
    # It would commit on its own, apart from the transaction's other statements.
    engine = create_engine(postgres_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            with pytest.raises(ValueError, match="autocommit"):
                await driver_execute(conn, "SELECT 1")
    finally:
        await engine.dispose()
