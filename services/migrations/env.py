"""Alembic environment: async engines for SQLite and PostgreSQL."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from services.shared.db import create_engine


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, render_as_batch=True)
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


url = context.config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url is not set"
asyncio.run(_online(url))
