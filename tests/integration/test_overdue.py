"""One meaning of "overdue" (active, due time passed) for GET /api/tasks, on
SQLite and PostgreSQL; mcp/ and assistant/ ask the same board."""

from datetime import UTC, datetime

import pytest

from services.tasks import repository
from tests.conftest import User

# 10:00 in New York (alice's zone) on 4 March 2030.
ASKED_AT = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)


async def overdue_board(alice: User, monkeypatch: pytest.MonkeyPatch) -> User:
    """Due 09:00 today, 09:00 tomorrow, and yesterday but already done; asked at 10:00."""
    monkeypatch.setattr(repository, "_now", lambda: ASKED_AT)
    await alice.add(title="Morning standup notes", due_at="2030-03-04T09:00")
    await alice.add(title="Dentist", due_at="2030-03-05T09:00")
    done = await alice.add(title="Pay rent", due_at="2030-03-03T09:00")
    assert (await alice.post(f"/api/tasks/{done['id']}/complete")).status_code == 200
    return alice


@pytest.fixture
async def board(alice: User, monkeypatch: pytest.MonkeyPatch) -> User:
    return await overdue_board(alice, monkeypatch)


async def test_the_list_route_counts_earlier_today_as_overdue(board: User) -> None:
    late = await board.get("/api/tasks", params={"overdue": "true"})
    assert late.status_code == 200, late.text
    assert [t["title"] for t in late.json()["items"]] == ["Morning standup notes"]
    rest = await board.get(
        "/api/tasks", params={"overdue": "false", "sort_by": "title", "sort_order": "asc"}
    )
    assert [t["title"] for t in rest.json()["items"]] == ["Dentist", "Pay rent"]


async def test_an_unreadable_overdue_value_is_a_clear_422(alice: User) -> None:
    response = await alice.get("/api/tasks", params={"overdue": "soon"})
    assert response.status_code == 422
    assert "overdue" in response.text
