"""The embedded SQLite engine: a transaction cancelled half-way (a consumer
stopped in the middle of its batch, a request whose task is cancelled) is rolled
back and leaves the database writable for every other connection at once."""

import asyncio
import gc
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import aiosqlite
import pytest
import sqlalchemy as sa

from events.processed import claim_events, processed_events
from services.shared.db import create_engine


@pytest.fixture
def no_garbage_collection() -> Iterator[None]:
    """A connection left open is closed by the garbage collector sooner or
    later; the engine must not depend on when."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_a_task_cancelled_inside_a_returning_statement_leaves_the_database_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_garbage_collection: None
) -> None:
    path = tmp_path / "todo.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: processed_events.create(c))

        # Hold the claim between the INSERT … RETURNING's first step (its rows are
        # written) and the read of what it returned, then cancel it there.
        reached = asyncio.Event()

        async def fetch_never(self: aiosqlite.Cursor) -> list[sqlite3.Row]:
            reached.set()
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def claim(event_id: str) -> set[str]:
            async with engine.begin() as conn:
                return await claim_events(conn, ["email", "webhook"], event_id)

        with monkeypatch.context() as patched:
            patched.setattr(aiosqlite.Cursor, "fetchall", fetch_never)
            task = asyncio.create_task(claim("cancelled"))
            await reached.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        # Another connection (another process would be the same) takes the write
        # lock at once, instead of "database is locked" until a collection runs.
        other = sqlite3.connect(path, timeout=2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()

        # The cancelled claim was rolled back, and the engine goes on working.
        assert await claim("cancelled") == {"email", "webhook"}
        assert await claim("cancelled") == set()
        async with engine.connect() as conn:
            rows = await conn.execute(sa.select(sa.func.count()).select_from(processed_events))
            assert rows.scalar_one() == 2
    finally:
        await engine.dispose()
