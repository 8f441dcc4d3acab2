"""Column types shared by every table of the product, the Core table of a model, and
the INSERT that can say what a conflict does in either database."""

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An instant: stored in UTC, always read back timezone-aware.

    SQLite has no timestamp type, so values are normalised to UTC before they
    are written; that keeps its text ordering equal to time ordering.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for an instant column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def serial_id() -> Any:
    """A growing row id: BIGINT on PostgreSQL, INTEGER on SQLite (its rowid, which only
    an INTEGER PRIMARY KEY aliases)."""
    return Field(
        primary_key=True,
        sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa_column_kwargs={"autoincrement": True},
    )


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a SQLModel table model, for queries written in Core."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, sa.Table), f"{model.__name__} is not a table model"
    return table


def conflict_insert(dialect: str, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` with ON CONFLICT clauses, in the dialect named
    (`conn.dialect.name`): PostgreSQL's, or SQLite's for the embedded database."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
