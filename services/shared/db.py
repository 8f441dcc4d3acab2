"""Database engines: SQLite (embedded default) and PostgreSQL, one code path."""

import contextlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from events.sqltypes import UTCDateTime, conflict_insert

__all__ = ["UTCDateTime", "conflict_insert", "create_engine", "driver_execute", "ping", "reader"]

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


async def driver_execute(conn: AsyncConnection, statement: str, *args: Any) -> None:
    """Run one PostgreSQL statement (`$1` parameters) on the asyncpg connection
    under `conn`, which must be in autocommit: the statement commits on its own.

    For a statement on a path users wait on: it skips SQLAlchemy's work per
    statement (about 0.4 ms on the chat's write-ahead), not the pool. The pool
    cannot see the driver's errors, so a connection that failed here is
    invalidated (closed and never handed out again) before the error goes on.
    """
    if conn.sync_connection is None or (
        conn.sync_connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
    ):
        # In a transaction, the statement would commit apart from the rest of it.
        raise ValueError("driver_execute needs an autocommit connection (`reader`)")
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None, "a pooled connection always has its driver's"
    try:
        await driver.execute(statement, *args)
    except BaseException as exc:
        await conn.invalidate()
        if isinstance(exc, Exception) and driver.is_closed():
            # What SQLAlchemy would have said: the connection is gone (an outage).
            raise sa_exc.DisconnectionError(f"the database connection was lost: {exc}") from exc
        raise


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
