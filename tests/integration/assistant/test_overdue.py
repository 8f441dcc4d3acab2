"""The offline assistant's "what's overdue?" asks find_tasks for overdue=true."""

import pytest

from tests.conftest import User
from tests.integration.assistant.conftest import say
from tests.integration.test_overdue import overdue_board


async def test_the_assistant_answers_whats_overdue_with_the_filter(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = await overdue_board(alice, monkeypatch)
    reply = await say(board, "what's overdue?")
    find = reply.of("tool_call")[0]
    assert find["name"] == "find_tasks"
    assert find["arguments"]["overdue"] is True
    assert "due_before" not in find["arguments"]
    assert "Morning standup notes" in reply.text
    assert "Dentist" not in reply.text
    assert "Pay rent" not in reply.text
