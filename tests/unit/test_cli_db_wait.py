"""`todo db wait`: returns once the database is at the newest migration, and gives up
with a message that says where it stands and what to run."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.migrations.runner import head_revision, upgrade
from services.shared.settings import get_settings

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_an_unmigrated_database_is_waited_for_then_refused(database: str) -> None:
    result = runner.invoke(app, ["db", "wait", "--timeout", "0.3"])
    assert result.exit_code == 1
    assert "not migrated after 0.3 s" in result.output
    assert f"waiting for {head_revision()}" in result.output
    assert "todo db upgrade" in result.output


def test_a_migrated_database_passes_at_once(database: str) -> None:
    upgrade(database)
    result = runner.invoke(app, ["db", "wait", "--timeout", "0"])
    assert result.exit_code == 0, result.output
    assert f"database is at migration {head_revision()}" in result.output


def test_an_older_migration_is_not_enough(database: str) -> None:
    upgrade(database, "0001")
    result = runner.invoke(app, ["db", "wait", "--timeout", "0.2"])
    assert result.exit_code == 1
    assert "at 0001" in result.output


def test_a_negative_timeout_is_refused(database: str) -> None:
    result = runner.invoke(app, ["db", "wait", "--timeout", "-1"])
    assert result.exit_code == 2
