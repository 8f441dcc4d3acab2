"""Apply migrations programmatically (`todo db upgrade`, embedded start-up, tests)."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

HERE = Path(__file__).resolve().parent


def _config(url: str) -> Config:
    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Blocking: run from sync code or through `upgrade_async`."""
    _ensure_sqlite_dir(url)
    command.upgrade(_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, url, revision)


def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    assert head is not None, "no migrations"
    return head


async def current_revision(url: str) -> str | None:
    """The migration the database is at (None: none applied); raises when unreachable."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def wait_for_schema(url: str, *, give_up_after: float, interval: float = 1.0) -> str:
    """Until the database is reachable and at this code's newest migration; the
    revision. TimeoutError says where it stands once `give_up_after` seconds have passed."""
    head = head_revision()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    while True:
        try:
            at: str | None = await current_revision(url)
            state = f"at {at or 'no migration'}, waiting for {head}"
        except Exception as exc:  # unreachable or not yet created: keep waiting
            at, state = None, f"unreachable ({type(exc).__name__}: {exc})"
        if at == head:
            return head
        if loop.time() >= deadline:
            raise TimeoutError(f"the database is not migrated after {give_up_after:g} s: {state}")
        await asyncio.sleep(interval)


def _ensure_sqlite_dir(url: str) -> None:
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix):
        path = url[len(prefix) :].split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
