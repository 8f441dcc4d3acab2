"""Apply migrations programmatically (`todo db upgrade`, embedded start-up, tests)."""

import asyncio
from dataclasses import dataclass
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


def downgrade(url: str, revision: str) -> None:
    """Blocking: undo the migrations after `revision`."""
    command.downgrade(_config(url), revision)


@dataclass(frozen=True, slots=True)
class Upgraded:
    """What `upgrade_reporting` did: the revision before (None: no migration had
    been applied) and after, and whether the SQLite file had to be created."""

    before: str | None
    after: str
    created: bool


def upgrade_reporting(url: str) -> Upgraded:
    """`upgrade` to the newest migration, telling where the database started."""
    path = _sqlite_path(url)
    created = path is not None and not path.exists()
    before = None if created else asyncio.run(current_revision(url))
    upgrade(url)
    after = asyncio.run(current_revision(url))
    assert after is not None, "no migration applied"
    return Upgraded(before=before, after=after, created=created)


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


def _sqlite_path(url: str) -> Path | None:
    prefix = "sqlite+aiosqlite:///"
    if url.startswith(prefix):
        path = url[len(prefix) :].split("?", 1)[0]
        if path and path != ":memory:":
            return Path(path)
    return None


def _ensure_sqlite_dir(url: str) -> None:
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
