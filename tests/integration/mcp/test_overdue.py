"""`find_tasks(overdue=true)`: the same overdue as GET /api/tasks?overdue=true."""

from typing import Any

import pytest

from tests.conftest import User
from tests.integration.mcp.test_tools import call
from tests.integration.test_overdue import overdue_board


async def test_find_tasks_takes_the_same_filter(
    alice: User, session_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = await overdue_board(alice, monkeypatch)
    async with session_for(board) as session:
        found = await call(session, "find_tasks", status="all", overdue=True)
    assert [t["title"] for t in found["items"]] == ["Morning standup notes"]
