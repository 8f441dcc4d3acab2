"""Database engines: SQLite (embedded default) and PostgreSQL, one code path."""

import contextlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from events.sqltypes import UTCDateTime, conflict_insert

__all__ = ["UTCDateTime", "conflict_insert", "create_engine", "ping", "reader"]

# Reconnect a pooled PostgreSQL connection after this long.
POOL_RECYCLE_SECONDS = 300


def create_engine(url: str, *, pool_size: int = 20, echo: bool = False) -> AsyncEngine:
    """An async engine; nothing connects until first use. On PostgreSQL it
    holds at most `pool_size` connections, opened as needed and then kept."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip on every checkout. Connections are
    # recycled before a server or proxy idle timeout is likely to close them, and
    # a connection found broken is discarded by the pool when its error surfaces.
    # No overflow: an overflow connection is closed as soon as it is returned, so a
    # load a little above the pool opened (and PostgreSQL forked) a new connection
    # for nearly every request. Callers beyond the pool wait for a connection.
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=0,
        pool_recycle=POOL_RECYCLE_SECONDS,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    # WAL lets readers run beside the writer; BEGIN IMMEDIATE takes the write
    # lock up front so two writers queue on busy_timeout instead of failing
    # with "database is locked" when a read transaction tries to upgrade.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    # A task cancelled in the middle of a statement (between an INSERT …
    # RETURNING's first step and its last row) leaves that statement active, and
    # the pool then discards the connection without closing its cursor. SQLite
    # keeps a connection with an active statement open, transaction and write
    # lock included, until the statement is finalised: every other writer would
    # wait on "database is locked" until garbage collection happened to run.
    # Closing the cursor first lets the connection really close.
    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(ctx: sa.engine.ExceptionContext) -> None:
        cursor = getattr(ctx.execution_context, "cursor", None)
        if ctx.is_disconnect and cursor is not None:
            with contextlib.suppress(Exception):
                cursor.close()


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same pool in autocommit mode, for one-statement reads: no
    BEGIN/ROLLBACK round trips on PostgreSQL, no write lock on SQLite."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
