"""Models against the migrated database: what autogenerate compares, and how.

`alembic revision --autogenerate` (through env.py) and the drift test use the
same options, so a clean comparison here means autogenerate drafts nothing.
"""

from typing import Any, Literal

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from events.sqltypes import UTCDateTime
from services.shared.tables import metadata

# Full-text search is the migrations' alone and differs by database (see the
# `Task` model): the FTS5 table and its shadow tables on SQLite, a generated
# column with its GIN index on PostgreSQL. The models leave them out, so the
# comparison must too, or autogenerate would draft dropping them.
MIGRATION_ONLY_TABLE_PREFIX = "tasks_fts"
MIGRATION_ONLY_COLUMNS = {("tasks", "search_vector")}
MIGRATION_ONLY_INDEXES = {"ix_tasks_search"}

NameType = Literal[
    "schema", "table", "column", "index", "unique_constraint", "foreign_key_constraint"
]


def include_name(name: str | None, type_: NameType, parent_names: Any) -> bool:
    """Objects of the database that have no model on purpose are not compared."""
    if type_ == "table":
        return not (name or "").startswith(MIGRATION_ONLY_TABLE_PREFIX)
    if type_ == "column":
        return (parent_names["table_name"], name) not in MIGRATION_ONLY_COLUMNS
    if type_ == "index":
        return name not in MIGRATION_ONLY_INDEXES
    return True


def include_object_on(dialect: str) -> Any:
    """Leave out a model's object made for other databases only
    (`info={"dialects": (...)}`, like the GIN index on tags)."""

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        dialects = None if reflected else getattr(obj, "info", {}).get("dialects")
        return dialects is None or dialect in dialects

    return include_object


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """A drafted migration writes an instant column as the migrations do: the
    database stores a timestamp with time zone, `UTCDateTime` is the code's."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def options(connection: Connection) -> dict[str, Any]:
    """`context.configure` options for comparing the models with `connection`'s database."""
    return {
        "target_metadata": metadata,
        # SQLite has no ALTER for most changes: alembic copies the table instead.
        "render_as_batch": True,
        # Types are compared (String lengths, BigInteger against Integer, ...);
        # `UTCDateTime` is compared as the DateTime(timezone=True) it stores.
        "compare_type": True,
        # Server defaults are compared too, each rendered for the database
        # compared with (`false()` is '0' on SQLite, 'false' on PostgreSQL).
        "compare_server_default": True,
        "include_name": include_name,
        "include_object": include_object_on(connection.dialect.name),
        "render_item": render_item,
    }


def differences(connection: Connection, models: sa.MetaData = metadata) -> list[Any]:
    """What autogenerate would change so the database matched `models` ([]: nothing)."""
    context = MigrationContext.configure(connection, opts=options(connection))
    return list(compare_metadata(context, models))


async def differences_at(url: str, models: sa.MetaData = metadata) -> list[Any]:
    """`differences` against the database at `url`."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(differences, models)
    finally:
        await engine.dispose()


__all__ = ["differences", "differences_at", "options"]
