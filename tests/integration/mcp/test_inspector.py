"""An independent client: the MCP Inspector CLI from the npm registry (see
scripts/mcp-inspector.sh), against `todo mcp` over stdio and against `/mcp`
over streamable HTTP with a bearer token."""

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import User
from tests.integration.mcp.conftest import McpServer
from tests.integration.mcp.test_catalog import CONTRACT_TOOLS
from tests.integration.mcp.test_stdio import same_database, titles_of

REPO = Path(__file__).resolve().parents[3]
INSTALL = REPO / "scripts" / "mcp-inspector.sh"
TODO = Path(sys.executable).parent / "todo"

# The first test also waits for the install (about 15 s cold, well under a second warm).
pytestmark = pytest.mark.timeout(300)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, f"exit {self.code}\n{self.stdout}\n{self.stderr}"
        return json.loads(self.stdout)


@pytest.fixture(scope="session")
def inspector() -> Path:
    """The Inspector's CLI entry, installed into the user cache if missing."""
    try:
        done = subprocess.run(  # noqa: S603 - our own script
            [str(INSTALL)], capture_output=True, text=True, timeout=240, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{INSTALL.name} timed out:\n{exc.stdout!r}\n{exc.stderr!r}")
    if done.returncode != 0:
        pytest.fail(f"{INSTALL.name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    entry = Path(done.stdout.strip().splitlines()[-1])
    assert entry.is_file(), done.stdout
    return entry


async def inspect(entry: Path, *args: str) -> Run:
    """`node <entry> --cli <args>` without blocking the loop the app runs on."""
    process = await asyncio.create_subprocess_exec(
        "node",
        str(entry),
        "--cli",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_UPDATE_NOTIFIER": "1"},
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Run(process.returncode, stdout.decode(), stderr.decode())


def tool_names(listed: Any) -> set[str]:
    return {tool["name"] for tool in listed["tools"]}


async def test_inspector_over_stdio_against_todo_mcp(inspector: Path, tmp_path: Path) -> None:
    environment = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "LOCAL_USER": "true",
        "DEFAULT_TIMEZONE": "Europe/Berlin",
        "EVENT_BUS": "memory",
    }
    server = [flag for key, value in environment.items() for flag in ("-e", f"{key}={value}")]
    server += ["--", str(TODO), "mcp"]

    listed = (await inspect(inspector, *server, "--method", "tools/list")).json()
    added = (
        await inspect(
            inspector,
            *server,
            "--method",
            "tools/call",
            "--tool-name",
            "add_task",
            "--tool-arg",
            "title=Inspector over stdio",
            "due_at=2030-07-01T09:00",
        )
    ).json()
    found = (
        await inspect(
            inspector,
            *server,
            "--method",
            "tools/call",
            "--tool-name",
            "find_tasks",
            "--tool-arg",
            "q=inspector",
        )
    ).json()

    assert tool_names(listed) == CONTRACT_TOOLS
    assert added["isError"] is False
    task = added["structuredContent"]
    assert task["title"] == "Inspector over stdio"
    assert task["due_at"] == "2030-07-01T09:00:00+02:00"
    assert [t["id"] for t in found["structuredContent"]["items"]] == [task["id"]]
    async with same_database(environment) as container:
        async with container.uow() as uow:
            local = await uow.accounts.local_user()
        assert local is not None
        assert await titles_of(container, local) == ["Inspector over stdio"]


async def test_inspector_over_http_with_a_token(
    inspector: Path, alice: User, mcp_server: McpServer
) -> None:
    target = [mcp_server.mcp_url, "--transport", "http"]
    bearer = ["--header", f"Authorization: Bearer {alice.token}"]

    listed = (await inspect(inspector, *target, *bearer, "--method", "tools/list")).json()
    added = (
        await inspect(
            inspector,
            *target,
            *bearer,
            "--method",
            "tools/call",
            "--tool-name",
            "add_task",
            "--tool-arg",
            "title=Inspector over HTTP",
            "priority=high",
        )
    ).json()
    anonymous = await inspect(inspector, *target, "--method", "tools/list")

    assert tool_names(listed) == CONTRACT_TOOLS
    assert added["isError"] is False
    task = added["structuredContent"]
    mine = await alice.get(f"/api/tasks/{task['id']}")
    assert mine.status_code == 200, mine.text
    assert mine.json()["title"] == "Inspector over HTTP"
    assert mine.json()["priority"] == "high"
    # Without the token the Inspector gets nothing: no tool list, a failing exit.
    assert anonymous.code != 0
    assert "add_task" not in anonymous.stdout
    assert "Authentication required" in anonymous.stderr
