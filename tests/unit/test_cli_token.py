"""`todo token create`: a token for the local user, with or without an expiry,
and a clear refusal of a bad one."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from services.cli import app
from services.shared.settings import get_settings
from services.shared.tables import access_tokens

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EVENT_BUS", "memory")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _expiries(url: str) -> list[datetime | None]:
    async def read() -> list[datetime | None]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    sa.select(access_tokens.c.expires_at).order_by(access_tokens.c.created_at)
                )
                return [r[0] for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_a_token_without_and_with_an_expiry(database: str) -> None:
    lasting = runner.invoke(app, ["token", "create", "--name", "claude"])
    assert lasting.exit_code == 0, lasting.output
    weekly = runner.invoke(app, ["token", "create", "--name", "ci", "--expires-in-days", "7"])
    assert weekly.exit_code == 0, weekly.output
    assert lasting.stdout.strip() != weekly.stdout.strip()
    never, week = _expiries(database)
    assert never is None
    assert week is not None
    left = week.replace(tzinfo=week.tzinfo or UTC) - datetime.now(UTC)
    assert timedelta(days=6, hours=23) < left <= timedelta(days=7)


@pytest.mark.parametrize("days", ["0", "-3", "3651", "soon"])
def test_a_bad_expiry_is_refused_with_the_option_named(database: str, days: str) -> None:
    result = runner.invoke(app, ["token", "create", "--name", "x", "--expires-in-days", days])
    assert result.exit_code == 2
    assert "--expires-in-days" in result.output
