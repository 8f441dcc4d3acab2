"""The PostgreSQL pool: at most DB_POOL_SIZE connections, kept once opened.

More callers than connections wait for one; none fails, and no connection is
opened and closed per caller (each would make PostgreSQL fork a backend). A
connection that failed under a statement run on the driver is discarded; one
the database merely refused a statement on is kept, and the refusal is raised
as SQLAlchemy raises it."""

import asyncio
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from events.runtime import is_outage
from services.shared.db import (
    UTCDateTime,
    create_engine,
    driver_execute,
    execute_counted,
    reader,
    statement_alone,
)

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


async def test_a_statement_the_database_refuses_on_the_driver_raises_as_through_sqlalchemy(
    postgres_url: str,
) -> None:
    # Callers tell a taken key or an unstorable value by SQLAlchemy's errors, and
    # a refusal is not a broken connection: it stays in the pool.
    engine = create_engine(postgres_url, pool_size=1)
    autocommit = reader(engine)
    table = f"refusals_{uuid.uuid4().hex[:8]}"
    try:
        async with autocommit.connect() as conn:
            await driver_execute(conn, f"CREATE TABLE {table} (id int PRIMARY KEY, note text)")
            await driver_execute(conn, f"INSERT INTO {table} VALUES ($1, $2)", 1, "first")
        before = await _backend(autocommit)
        with pytest.raises(sa.exc.IntegrityError) as taken:
            async with autocommit.connect() as conn:
                await driver_execute(conn, f"INSERT INTO {table} VALUES ($1, $2)", 1, "again")
        assert f"{table}_pkey" in str(taken.value.orig)
        assert not is_outage(taken.value)
        with pytest.raises(sa.exc.DataError) as unstorable:
            async with autocommit.connect() as conn:
                await driver_execute(conn, f"INSERT INTO {table} VALUES ($1, $2)", 2, "a\x00b")
        assert "0x00" in str(unstorable.value.orig)
        assert await _backend(autocommit) == before
        async with autocommit.connect() as conn:
            await driver_execute(conn, f"DROP TABLE {table}")
    finally:
        await engine.dispose()


async def test_a_counted_write_runs_on_the_driver_alone_and_through_sqlalchemy_in_a_transaction(
    postgres_url: str,
) -> None:
    # The same statement and typed values, two ways: the rows read back the same,
    # and each way reports how many rows it changed.
    engine = create_engine(postgres_url, pool_size=1)
    table = sa.Table(
        f"counted_{uuid.uuid4().hex[:8]}",
        sa.MetaData(),
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("at", UTCDateTime),
        sa.Column("tags", sa.JSON().with_variant(postgresql.ARRAY(sa.String), "postgresql")),
        sa.Column("extra", sa.JSON),
    )
    insert = sa.text(
        f"INSERT INTO {table.name} (id, at, tags, extra)"
        " VALUES (:id, :at, :tags, :extra), (:id2, :at, :tags, :extra)"
    ).bindparams(
        sa.bindparam("id", type_=table.c.id.type),
        sa.bindparam("id2", type_=table.c.id.type),
        sa.bindparam("at", type_=table.c.at.type),
        sa.bindparam("tags", type_=table.c.tags.type),
        sa.bindparam("extra", type_=table.c.extra.type),
    )
    at = datetime(2030, 3, 30, 23, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    values = {"at": at, "tags": ["home", "ünïcode"], "extra": {"dates": ["2030-01-01"]}}
    alone = {"id": uuid.uuid4(), "id2": uuid.uuid4(), **values}
    joined = {"id": uuid.uuid4(), "id2": uuid.uuid4(), **values}
    through_sqlalchemy: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        through_sqlalchemy.append(statement)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
        sa.event.listen(engine.sync_engine, "before_cursor_execute", note)
        async with reader(engine).connect() as conn:
            assert await execute_counted(conn, insert, alone) == 2
        assert through_sqlalchemy == []  # the driver's
        async with engine.connect() as conn:
            assert await execute_counted(conn, insert, joined) == 2
            await conn.rollback()  # through SQLAlchemy, inside its transaction: undone
            assert await execute_counted(conn, insert, joined) == 2
            await conn.commit()
        sa.event.remove(engine.sync_engine, "before_cursor_execute", note)
        assert len(through_sqlalchemy) == 2
        async with engine.connect() as conn:
            found = (await conn.execute(sa.select(table).order_by(table.c.id))).all()
        by_id = {row.id: row for row in found}
        assert set(by_id) == {alone["id"], alone["id2"], joined["id"], joined["id2"]}
        for row in found:
            assert (row.at, row.tags, row.extra) == (at, values["tags"], values["extra"])
            assert row.at.utcoffset() is not None
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.drop_all)
        await engine.dispose()


async def test_a_write_alone_commits_on_the_driver_only_while_no_transaction_is_open(
    postgres_url: str,
) -> None:
    # `statement_alone`: the unit's one write commits as it runs, without the
    # connection switching to autocommit. Once a transaction is open on the
    # connection, or for another connection, a write joins its transaction.
    engine = create_engine(postgres_url, pool_size=2)
    name = f"alone_{uuid.uuid4().hex[:8]}"
    insert = sa.text(f"INSERT INTO {name} (id) VALUES (:id)").bindparams(
        sa.bindparam("id", type_=sa.Integer)
    )
    through_sqlalchemy: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("INSERT"):
            through_sqlalchemy.append(statement)

    async def kept() -> list[int]:
        async with engine.connect() as conn:
            found = await conn.execute(sa.text(f"SELECT id FROM {name} ORDER BY id"))
            return list(found.scalars())

    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"CREATE TABLE {name} (id int PRIMARY KEY)"))
        sa.event.listen(engine.sync_engine, "before_cursor_execute", note)
        async with engine.connect() as conn:
            with statement_alone(conn):
                assert await execute_counted(conn, insert, {"id": 1}) == 1
                assert not conn.in_transaction()
                assert conn.sync_connection is not None
                assert "isolation_level" not in conn.sync_connection.get_execution_options()
            assert through_sqlalchemy == []
            assert await kept() == [1]  # committed, seen from another connection

            # Outside the block: through SQLAlchemy, in its transaction.
            assert await execute_counted(conn, insert, {"id": 2}) == 1
            await conn.rollback()
            assert len(through_sqlalchemy) == 1

            # Inside it, with a transaction already open: the write joins it.
            with statement_alone(conn):
                await conn.execute(sa.text("SELECT 1"))
                assert await execute_counted(conn, insert, {"id": 3}) == 1
            await conn.rollback()
            assert len(through_sqlalchemy) == 2

            # Another connection's write is not alone because this one is.
            async with engine.connect() as other:
                with statement_alone(conn):
                    assert await execute_counted(other, insert, {"id": 4}) == 1
                await other.rollback()
            assert len(through_sqlalchemy) == 3
        assert await kept() == [1]
    finally:
        if sa.event.contains(engine.sync_engine, "before_cursor_execute", note):
            sa.event.remove(engine.sync_engine, "before_cursor_execute", note)
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
        await engine.dispose()
