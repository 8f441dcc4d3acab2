"""Database engines: SQLite (embedded default) and PostgreSQL, one code path."""

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from events.runtime import is_outage
from events.sqltypes import UTCDateTime, conflict_insert

__all__ = [
    "DriverStatement",
    "UTCDateTime",
    "conflict_insert",
    "create_engine",
    "driver_execute",
    "execute_counted",
    "ping",
    "reader",
    "statement_alone",
]

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


async def driver_execute(conn: AsyncConnection, statement: str, *args: Any) -> str:
    """Run one PostgreSQL statement (`$1` parameters) on the asyncpg connection
    under `conn`, which must be in autocommit: the statement commits on its own.
    Returns the driver's status ("INSERT 0 1").

    For a statement on a path users wait on: it skips SQLAlchemy's work per
    statement (about 0.4 ms on the chat's write-ahead), not the pool. The pool
    cannot see the driver's errors, so a connection that failed here (lost, or
    left mid-statement by a cancellation) is invalidated (closed and never
    handed out again) before the error goes on. The database refusing the
    statement leaves the connection as it was, and the error is raised as
    SQLAlchemy raises it (`IntegrityError`, `DataError`, `DBAPIError`, with the
    driver's error as `orig`), so callers handle one kind of error.
    """
    if not _autocommit(conn):
        # In a transaction, the statement would commit apart from the rest of it.
        raise ValueError(
            "driver_execute needs an autocommit connection (`reader`, `statement_alone`)"
        )
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None, "a pooled connection always has its driver's"
    try:
        status: str = await driver.execute(statement, *args)
    except BaseException as exc:
        answered = isinstance(exc, asyncpg.PostgresError)  # the server's error, not the wire's
        lost = driver.is_closed() or (answered and is_outage(exc))  # shutting down, say
        if answered and not lost:
            raise _refused(statement, exc) from exc
        await conn.invalidate()
        if isinstance(exc, Exception) and lost:
            # What SQLAlchemy would have said: the connection is gone (an outage).
            raise sa_exc.DisconnectionError(f"the database connection was lost: {exc}") from exc
        raise
    return status


# The connection whose statements, while no transaction is open on it, are
# each their own transaction (`statement_alone`).
_alone: ContextVar[AsyncConnection | None] = ContextVar("statement_alone", default=None)


@contextlib.contextmanager
def statement_alone(conn: AsyncConnection) -> Iterator[None]:
    """Inside: a statement sent to the driver on `conn` (`execute_counted`)
    while `conn` has no transaction open commits on its own, as in autocommit,
    without switching the connection to autocommit and back (two of
    SQLAlchemy's greenlet hops per write). What goes through SQLAlchemy instead
    begins a transaction as usual, for the caller to commit. Only for the
    caller's own task: `conn` is held in a context variable."""
    token = _alone.set(conn)
    try:
        yield
    finally:
        _alone.reset(token)


def _autocommit(conn: AsyncConnection) -> bool:
    """Whether each statement on `conn` is its own transaction."""
    sync = conn.sync_connection
    if sync is None:
        return False
    if sync.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return True
    return _alone.get() is conn and not sync.in_transaction()


def _refused(statement: str, exc: BaseException) -> sa_exc.DBAPIError:
    """The database's refusal as SQLAlchemy reports it, by SQLSTATE class:
    23 integrity (a key taken), 22 data (a value it cannot store), else any."""
    state = str(getattr(exc, "sqlstate", "") or "")
    kind: type[sa_exc.DBAPIError] = sa_exc.DBAPIError
    if state.startswith("23"):
        kind = sa_exc.IntegrityError
    elif state.startswith("22"):
        kind = sa_exc.DataError
    return kind(statement, None, exc)


class DriverStatement:
    """A SQLAlchemy statement with named, typed parameters, compiled once for
    asyncpg: the `$n` text SQLAlchemy would send, and per parameter the
    conversion its type makes (SQLAlchemy's bind processors), so a value
    reaches the database exactly as through SQLAlchemy."""

    __slots__ = ("_params", "sql")

    def __init__(self, statement: sa.TextClause, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        names = compiled.positiontup or []
        self._params = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [
            values[name] if process is None else process(values[name])
            for name, process in self._params
        ]


_compiled: dict[sa.TextClause, DriverStatement] = {}
_COMPILED_KEPT = 256


def _driver_statement(statement: sa.TextClause, dialect: sa.Dialect) -> DriverStatement:
    found = _compiled.get(statement)
    if found is None:
        found = DriverStatement(statement, dialect)
        if len(_compiled) < _COMPILED_KEPT:  # statements built once per shape, kept by callers
            _compiled[statement] = found
    return found


async def execute_counted(
    conn: AsyncConnection, statement: sa.TextClause, params: Mapping[str, Any]
) -> int:
    """Run one write and return how many rows it changed.

    When the statement is its own transaction (PostgreSQL, `conn` in autocommit
    or no transaction open on it under `statement_alone`, as `UnitOfWork.run_alone`
    runs a unit's one write), it goes straight to the
    driver (`driver_execute`), compiled once: about 0.1 ms of CPU less per
    create, a quarter of its database work in the process. Otherwise, through
    SQLAlchemy."""
    if conn.dialect.name == "postgresql" and _autocommit(conn):
        prepared = _driver_statement(statement, conn.dialect)
        status = await driver_execute(conn, prepared.sql, *prepared.args(params))
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0
    return (await conn.execute(statement, params)).rowcount


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
