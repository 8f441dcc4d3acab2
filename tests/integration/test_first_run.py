"""The first run, as a person meets it: the `todo` command as a real child
process with a fresh HOME and no DATABASE_URL or DATA_DIR, started from a
folder of its own. One per-user data folder is shared by `serve`, `mcp`,
`chat`, `db upgrade` and `login-link`; each says where the data lives; a
busy port is one clear line; the migration message says what happened; a
fresh login link signs in through the real API."""

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from services.migrations.runner import head_revision, upgrade
from services.shared.settings import Settings
from tests.e2e.processes import poll
from testsupport.ports import free_port

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "services.cli"]
# Everything that could point the command somewhere else than the default.
UNSET = ("DATABASE_URL", "DATA_DIR", "JWT_PRIVATE_KEY_FILE", "LOCAL_USER", "XDG_DATA_HOME")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """The folder a command is started from (Claude Desktop's, a terminal's)."""
    (tmp_path / "cwd").mkdir()
    return tmp_path / "cwd"


@pytest.fixture
def env(home: Path, tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in UNSET}
    base.update(
        HOME=str(home),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        PYTHONPATH=str(REPO),  # this checkout's code, whatever folder the command starts in
        EVENT_BUS="memory",
        DEFAULT_TIMEZONE="Europe/Berlin",
    )
    return base


def data_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "todo-app" / "todo.db"


def todo(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command, our own arguments
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_default_location_is_per_user_not_per_folder(home: Path, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    cleared = {k: v for k, v in os.environ.items() if k not in UNSET}
    with pytest.MonkeyPatch.context() as patch:
        for name in UNSET:
            patch.delenv(name, raising=False)
        patch.setenv("HOME", str(home))
        patch.chdir(tmp_path)
        default = Settings(_env_file=None)  # type: ignore[call-arg]
        assert default.data_dir == home / ".local" / "share" / "todo-app"
        assert default.database_url == f"sqlite+aiosqlite:///{default.data_dir}/todo.db"
        patch.setenv("XDG_DATA_HOME", str(xdg))
        assert Settings(_env_file=None).data_dir == xdg / "todo-app"  # type: ignore[call-arg]
        patch.setenv("DATA_DIR", str(tmp_path / "moved"))
        moved = Settings(_env_file=None)  # type: ignore[call-arg]
        assert moved.database_url == f"sqlite+aiosqlite:///{tmp_path / 'moved' / 'todo.db'}"
        assert moved.signing_key_file == tmp_path / "moved" / "jwt-private.pem"
        patch.setenv("DATABASE_URL", "postgresql+asyncpg://todo:s3cret@db.internal:5432/todo")
        explicit = Settings(_env_file=None)  # type: ignore[call-arg]
        assert explicit.database_url.endswith("@db.internal:5432/todo")
        assert explicit.data_location == "postgresql+asyncpg://todo:***@db.internal:5432/todo"
    assert cleared  # the environment of the test run itself is left as it was


def test_db_upgrade_says_what_it_did(env: dict[str, str], elsewhere: Path) -> None:
    head = head_revision()
    created = todo("db", "upgrade", env=env, cwd=elsewhere)
    assert created.returncode == 0, created.stderr
    db = data_file(env)
    assert created.stderr.splitlines()[-1] == (
        f"created the database {db} (SQLite), at revision {head}"
    )
    assert db.exists()
    assert list(elsewhere.iterdir()) == []
    again = todo("db", "upgrade", env=env, cwd=elsewhere)
    assert again.stderr.splitlines()[-1] == (
        f"the database {db} (SQLite) is already at the latest revision, {head}"
    )
    older = elsewhere.parent / "older.db"
    upgrade(f"sqlite+aiosqlite:///{older}", "0005")
    migrated = todo(
        "db", "upgrade", env={**env, "DATABASE_URL": f"sqlite+aiosqlite:///{older}"}, cwd=elsewhere
    )
    assert migrated.stderr.splitlines()[-1] == (
        f"migrated the database {older} (SQLite) from revision 0005 to {head}"
    )


def test_a_busy_port_is_one_clear_line_before_anything_else(
    env: dict[str, str], elsewhere: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = todo("serve", "--port", str(port), env=env, cwd=elsewhere)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use (is todo already running?); "
        f"choose another: make run PORT={port + 1}, or todo serve --port {port + 1}"
    ]
    assert not data_file(env).exists()  # nothing was set up before the port was had


@asynccontextmanager
async def serving(env: dict[str, str], cwd: Path, port: int) -> AsyncIterator[list[str]]:
    """`todo serve` on `port`; yields its stderr lines so far (kept up to date)."""
    process = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--port", str(port), env=env, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    lines: list[str] = []

    async def read() -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            lines.append(line.decode().rstrip())

    reader = asyncio.create_task(read())
    try:
        async with httpx.AsyncClient() as client:

            async def up() -> bool:
                if process.returncode is not None:
                    raise AssertionError("\n".join(lines))
                try:
                    return (await client.get(f"http://127.0.0.1:{port}/healthz")).is_success
                except httpx.TransportError:
                    return False

            await poll(up)
        yield lines
    finally:
        process.terminate()
        await process.wait()
        await reader


async def test_login_link_signs_the_local_user_in_again(
    env: dict[str, str], elsewhere: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with serving(env, elsewhere, port) as lines, httpx.AsyncClient(base_url=base) as http:
        db = data_file(env)
        assert f"todo: data in {db} (SQLite); DATABASE_URL or DATA_DIR moves it" in lines
        assert any(f"Open {base}/login?token=todo_link_" in line for line in lines)
        assert any(f"`todo login-link --url {base}` prints a fresh one" in line for line in lines)

        # Later, signed out, from another terminal and folder: a fresh link.
        printed = await asyncio.to_thread(
            todo, "login-link", "--url", base, env=env, cwd=elsewhere.parent
        )
        assert printed.returncode == 0, printed.stderr
        link = printed.stdout.strip()
        assert link.startswith(f"{base}/login?token=todo_link_")
        assert "works once, for 15 minutes" in printed.stderr
        secret = link.split("token=", 1)[1]
        signed_in = await http.post("/api/auth/link", json={"token": secret})
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.json()["access_token"]
        me = await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["email"] == "me@todo.localhost"
        spent = await http.post("/api/auth/link", json={"token": secret})
        assert spent.status_code == 401
        options = await http.get("/api/auth/options")
        assert options.json() == {"login_link": True}
    assert not await asyncio.to_thread(
        lambda: [*elsewhere.iterdir(), *elsewhere.parent.glob("*.db")]
    )


def test_login_link_without_a_local_user_says_so(env: dict[str, str], elsewhere: Path) -> None:
    refused = todo("login-link", env={**env, "LOCAL_USER": "false"}, cwd=elsewhere)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "has no local user (LOCAL_USER is off)" in refused.stderr
    assert "Traceback" not in refused.stderr


async def test_mcp_without_an_env_block_uses_the_same_data(
    env: dict[str, str], elsewhere: Path, tmp_path: Path
) -> None:
    errors = tmp_path / "mcp-stderr.txt"
    server = StdioServerParameters(command=CLI[0], args=[*CLI[1:], "mcp"], env=env, cwd=elsewhere)
    with errors.open("w") as errlog:
        async with (
            stdio_client(server, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            added = await session.call_tool("add_task", {"title": "from Claude Desktop"})
            assert not added.is_error
    db = data_file(env)
    assert errors.read_text().splitlines()[0] == (
        f"todo: data in {db} (SQLite); DATABASE_URL or DATA_DIR moves it"
    )
    assert not await asyncio.to_thread(lambda: list(elsewhere.iterdir()))
    # The same data as `todo export` (and so `todo serve`) sees, from another folder.
    exported = todo("export", "--format", "csv", env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "from Claude Desktop" in exported.stdout


def test_chat_says_where_the_data_is(env: dict[str, str], elsewhere: Path) -> None:
    chat = subprocess.run(  # noqa: S603 - our own command
        [*CLI, "chat"], env=env, cwd=elsewhere, input="exit\n",
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert chat.returncode == 0, chat.stderr
    assert chat.stderr.splitlines()[0] == (
        f"todo: data in {data_file(env)} (SQLite); DATABASE_URL or DATA_DIR moves it"
    )
    assert "Chatting as me@todo.localhost" in chat.stdout
    assert list(elsewhere.iterdir()) == []


def test_a_database_left_in_the_folder_by_an_earlier_version_is_pointed_out(
    env: dict[str, str], elsewhere: Path
) -> None:
    old = elsewhere / "todo.db"
    upgrade(f"sqlite+aiosqlite:///{old}")
    before = old.read_bytes()
    upgraded = todo("db", "upgrade", env=env, cwd=elsewhere)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stderr.splitlines()[0] == (
        f"todo: {old} is not used (an earlier default); to keep its tasks, "
        f"move it to {data_file(env)} while todo is stopped"
    )
    assert old.read_bytes() == before
    # Named explicitly, it is simply the database.
    named = todo(
        "db", "upgrade", env={**env, "DATABASE_URL": f"sqlite+aiosqlite:///{old}"}, cwd=elsewhere
    )
    assert "is not used" not in named.stderr
