"""What a process loads: the consumers' processes run without the assistant
and the MCP server (each check in a fresh interpreter, so that what this test
process has imported does not count)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DOORS = ("assistant", "mcp_server", "mcp")

PROBE = f"""
import json, sys
from services.app import build_app
from services.bootstrap import bootstrap

build_app(bootstrap(service_name=sys.argv[1]))
print(json.dumps(sorted(m for m in {DOORS!r} if m in sys.modules)))
"""


def loaded_by(service: str, tmp_path: Path) -> list[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}",
        "DATA_DIR": str(tmp_path / "data"),
        "EVENT_BUS": "memory",
        "REDIS_URL": "",
    }
    env.pop("JWT_PRIVATE_KEY_FILE", None)
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", PROBE, service],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("service", ["audit", "notification", "recurring-task"])
def test_a_consumer_process_loads_neither_the_assistant_nor_the_mcp_sdk(
    service: str, tmp_path: Path
) -> None:
    assert loaded_by(service, tmp_path) == []


def test_the_task_api_process_serves_both(tmp_path: Path) -> None:
    assert loaded_by("task-api", tmp_path) == sorted(DOORS)
