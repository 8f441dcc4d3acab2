"""Over real stdio: `python -m mcp_server` (what `todo mcp` runs) as a child
process on a fresh SQLite file, driven by the official client."""

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from mcp_server.stdio import TOKEN_ENV
from services.bootstrap import Container, bootstrap
from services.migrations.runner import upgrade_async
from services.shared.auth import accounts
from services.shared.auth.principal import Principal
from services.tasks import service
from services.tasks.schemas import TaskQuery
from tests.integration.mcp.conftest import structured, text

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "DEFAULT_TIMEZONE": "Europe/Berlin",
        "EVENT_BUS": "memory",
    }


@asynccontextmanager
async def stdio_session(env: dict[str, str], cwd: Path) -> AsyncIterator[ClientSession]:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_server"], env=env, cwd=cwd
    )
    async with stdio_client(server) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def same_database(env: dict[str, str]) -> AsyncIterator[Container]:
    await upgrade_async(env["DATABASE_URL"])
    container = bootstrap(
        database_url=env["DATABASE_URL"], data_dir=Path(env["DATA_DIR"]), event_bus="memory"
    )
    try:
        yield container
    finally:
        await container.aclose()


async def titles_of(container: Container, user: Principal) -> list[str]:
    async with container.uow() as uow:
        page = await service.list_tasks(uow, user=user, query=TaskQuery())
    return [task.title for task in page.items]


async def test_acts_as_the_local_user(environment: dict[str, str], tmp_path: Path) -> None:
    async with stdio_session(environment, tmp_path) as session:
        tools = (await session.list_tools()).tools
        added = structured(
            await session.call_tool("add_task", {"title": "Stdio task", "due_at": "2030-07-01"})
        )
        found = await session.call_tool("find_tasks", {"q": "stdio"})
        bad = await session.call_tool("get_task", {"task_id": "nope"})
        still = await session.call_tool("find_tasks", {})
    assert len(tools) == 11
    assert added["timezone"] == "Europe/Berlin"
    assert added["due_at"] == "2030-07-01T23:59:00+02:00"
    assert structured(found)["items"][0]["id"] == added["id"]
    assert bad.is_error
    assert text(bad).startswith("task_id: ")
    assert not still.is_error
    async with same_database(environment) as container:
        async with container.uow() as uow:
            local = await uow.accounts.local_user()
        assert local is not None
        assert await titles_of(container, local) == ["Stdio task"]


async def test_acts_as_the_user_of_the_api_token(
    environment: dict[str, str], tmp_path: Path
) -> None:
    async with same_database(environment) as container:
        async with container.uow() as uow:
            user = await accounts.register(
                uow,
                email="pat-owner@example.com",
                password="correct horse battery",
                display_name=None,
                timezone="Asia/Tokyo",
            )
        async with container.uow() as uow:
            pat = await accounts.create_personal_token(uow, user_id=user.user_id, name="stdio")
        env = {**environment, TOKEN_ENV: pat.token}
        async with stdio_session(env, tmp_path) as session:
            added = structured(await session.call_tool("add_task", {"title": "Mine via PAT"}))
        assert added["timezone"] == "Asia/Tokyo"
        assert await titles_of(container, user) == ["Mine via PAT"]
        async with container.uow() as uow:
            assert await uow.accounts.local_user() is None, "no local user was needed"


async def test_a_bad_api_token_stops_with_a_message(
    environment: dict[str, str], tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mcp_server",
        env={**environment, TOKEN_ENV: "todo_pat_revoked-or-made-up", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert stdout == b"", "stdout belongs to the protocol"
    assert b"personal access token is unknown or revoked" in stderr
