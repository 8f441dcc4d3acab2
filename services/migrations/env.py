"""Alembic environment: async engines for SQLite and PostgreSQL.

`target_metadata` is every table model (services/shared/tables.py), compared
as services/migrations/drift.py says, so `alembic revision --autogenerate`
drafts a migration from a model change.
"""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from services.migrations.drift import options
from services.shared.db import create_engine


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **options(connection))
    with context.begin_transaction():
        context.run_migrations()


async def _online(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


# `todo db upgrade` sets the URL; a contributor's `alembic ... -x url=...` passes it.
url = context.config.get_main_option("sqlalchemy.url") or context.get_x_argument(
    as_dictionary=True
).get("url")
assert url, "no database URL: set sqlalchemy.url or pass `-x url=...`"
asyncio.run(_online(url))
