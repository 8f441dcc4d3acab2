"""The helpers behind `todo export` and `todo import FILE`."""

import json
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import typer

from services.bootstrap import Container, bootstrap
from services.portability.cli import (
    export_command,
    import_command,
    run_export,
    run_import,
    summary,
)
from services.portability.errors import ImportRefused
from services.shared.settings import get_settings
from tests.conftest import MakeUser


async def test_export_then_import_as_another_account(
    container: Container, make_user: MakeUser
) -> None:
    alice, bob = await make_user(), await make_user()
    await alice.add(title="Write report", due_at="2027-02-01", tags=["work"])
    text = await run_export(container, format="json", email=alice.email.upper())
    document = json.loads(text)
    assert [t["title"] for t in document["tasks"]] == ["Write report"]
    csv_text = await run_export(container, format="csv", email=alice.email)
    assert csv_text.splitlines()[0].startswith("id,title,description")

    dry = await run_import(
        container, content=text.encode(), filename="export.json", dry_run=True, email=bob.email
    )
    assert (dry.created, dry.dry_run) == (1, True)
    assert "would create 1" in summary(dry)
    assert (await bob.get("/api/tasks")).json()["total"] == 0
    done = await run_import(
        container, content=text.encode(), filename="export.json", dry_run=False, email=bob.email
    )
    assert "created 1" in summary(done)
    assert [t["title"] for t in (await bob.get("/api/tasks")).json()["items"]] == ["Write report"]

    with pytest.raises(ImportRefused) as refused:
        await run_import(
            container, content=b"title,when\nx,y\n", filename="t.csv", dry_run=False, email=None
        )
    assert refused.value.report.errors[0].field == "when"
    with pytest.raises(typer.BadParameter):
        await run_export(container, format="json", email="nobody@example.com")


@pytest.fixture
def local_setup(
    tmp_path: Path, key_file: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The commands configure themselves from the environment, like `todo`."""
    database = tmp_path / "todo.db"
    shutil.copy(sqlite_template, database)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JWT_PRIVATE_KEY_FILE", str(key_file))
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Europe/Berlin")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def command(run: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """A command in a thread of its own, as in a terminal: it runs its own
    event loop, which cannot be nested in the tests' loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run, *args, open_container=bootstrap, **kwargs).result()


def test_the_commands_act_as_the_local_user(
    local_setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = local_setup / "tasks.csv"
    tasks.write_text("title,due,tags\nWater plants,2027-04-01,home\n", encoding="utf-8")
    command(import_command, tasks, dry_run=True)
    assert "would create 1" in capsys.readouterr().out
    command(import_command, tasks)
    assert "created 1" in capsys.readouterr().out
    command(import_command, tasks)
    assert "1 duplicate(s)" in capsys.readouterr().out

    out = local_setup / "out.csv"
    command(export_command, format="csv", output=out)
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[1].split(",")[1:3] == ["Water plants", ""]
    assert "2027-04-01T23:59:00+02:00" in rows[1]
    command(export_command)
    assert json.loads(capsys.readouterr().out)["tasks"][0]["title"] == "Water plants"

    bad = local_setup / "bad.csv"
    bad.write_text("title,colour\nx,red\n", encoding="utf-8")
    with pytest.raises(typer.Exit) as refused:
        command(import_command, bad)
    assert refused.value.exit_code == 1
    assert "row 1: colour: unknown column" in capsys.readouterr().err
    with pytest.raises(typer.BadParameter):
        command(export_command, format="xml")
