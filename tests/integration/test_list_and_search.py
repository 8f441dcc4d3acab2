"""GET /api/tasks: filters, full-text search, sort and pagination."""

from typing import Any

import pytest
from sqlalchemy import event

from services.bootstrap import Container
from tests.conftest import User


def titles(page: dict[str, Any]) -> list[str]:
    return [t["title"] for t in page["items"]]


async def _list(user: User, **params: object) -> dict[str, Any]:
    response = await user.get("/api/tasks", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def board(alice: User) -> User:
    """Alice (New York) with a small, varied board."""
    await alice.add(
        title="Buy milk", priority="high", tags=["errands"], due_at="2030-03-01T17:00:00"
    )
    await alice.add(
        title="Write quarterly report",
        description="numbers for the board meeting",
        priority="medium",
        tags=["work", "reports"],
        due_at="2030-03-02",
    )
    await alice.add(title="Plan the team offsite", tags=["work"], priority="high")
    await alice.add(
        title="Water the plants", due_at="2030-03-01T08:00:00", recurrence_rule="FREQ=DAILY"
    )
    done = await alice.add(title="Renew passport", priority="low", due_at="2030-02-20")
    await alice.post(f"/api/tasks/{done['id']}/complete")
    return alice


async def test_status_priority_tags_and_recurrence_filters(board: User) -> None:
    assert (await _list(board))["total"] == 5
    assert titles(await _list(board, status="completed")) == ["Renew passport"]
    assert (await _list(board, status="active"))["total"] == 4
    assert set(titles(await _list(board, priority="high"))) == {"Buy milk", "Plan the team offsite"}
    assert (await _list(board, priority="high,low"))["total"] == 3
    assert set(titles(await _list(board, tags="work"))) == {
        "Write quarterly report",
        "Plan the team offsite",
    }
    assert titles(await _list(board, tags="work,reports")) == ["Write quarterly report"]
    assert titles(await _list(board, tags="WORK,Reports")) == ["Write quarterly report"]
    assert titles(await _list(board, is_recurring="true")) == ["Water the plants"]
    assert (await _list(board, is_recurring="false"))["total"] == 4


async def test_due_range_uses_calendar_days_in_the_users_zone(board: User) -> None:
    day = await _list(board, due_after="2030-03-01", due_before="2030-03-01")
    assert set(titles(day)) == {"Buy milk", "Water the plants"}
    both = await _list(board, due_after="2030-03-01", due_before="2030-03-02")
    assert both["total"] == 3
    instant = await _list(board, due_after="2030-03-01T12:00:00-05:00")
    assert set(titles(instant)) == {"Buy milk", "Write quarterly report"}
    before = await _list(board, due_before="2030-03-01T08:00:00")
    assert set(titles(before)) == {"Water the plants", "Renew passport"}


async def test_full_text_search_ranks_and_matches_prefixes_and_stems(board: User) -> None:
    assert titles(await _list(board, q="milk")) == ["Buy milk"]
    assert titles(await _list(board, q="quarter")) == ["Write quarterly report"]
    assert titles(await _list(board, q="meeting")) == ["Write quarterly report"]  # description
    assert titles(await _list(board, q="plants watering")) == ["Water the plants"]
    assert titles(await _list(board, q="plants milk")) == []
    assert titles(await _list(board, q="water plant")) == ["Water the plants"]
    assert titles(await _list(board, q="report", status="active")) == ["Write quarterly report"]
    await board.add(title="Report: report the report", description="report")
    ranked = titles(await _list(board, q="report"))
    assert ranked == ["Report: report the report", "Write quarterly report"]


@pytest.mark.parametrize(
    "q",
    [
        "'; DROP TABLE tasks; --",
        'milk" OR 1=1',
        "milk*",
        "NEAR(milk buy)",
        "a & b | !c",
        "(",
        ")",
        "title:milk",
        "%",
        "_",
        "\\",
        "milk:*",
        "«ünïcödé» 🥛",
        "-milk",
        "^milk",
        '"',
        "'",
        "AND",
        "OR NOT",
        "x" * 200,
    ],
)
async def test_search_metacharacters_never_fail(board: User, q: str) -> None:
    response = await board.get("/api/tasks", params={"q": q})
    assert response.status_code == 200, response.text
    assert (await _list(board))["total"] == 5


async def test_sorting_puts_missing_values_last_either_way(board: User) -> None:
    asc = titles(await _list(board, sort_by="due_at", sort_order="asc"))
    assert asc == [
        "Renew passport",
        "Water the plants",
        "Buy milk",
        "Write quarterly report",
        "Plan the team offsite",
    ]
    desc = titles(await _list(board, sort_by="due_at", sort_order="desc"))
    assert desc == [
        "Write quarterly report",
        "Buy milk",
        "Water the plants",
        "Renew passport",
        "Plan the team offsite",
    ]
    by_priority = titles(await _list(board, sort_by="priority", sort_order="desc"))
    assert by_priority[2:] == ["Write quarterly report", "Renew passport", "Water the plants"]
    assert (
        titles(await _list(board, sort_by="priority", sort_order="asc"))[-1] == "Water the plants"
    )
    assert titles(await _list(board, sort_by="title", sort_order="asc")) == sorted(
        titles(await _list(board)), key=str.lower
    )
    newest_first = titles(await _list(board))
    assert newest_first[0] == "Renew passport"


async def test_pagination_totals_and_pages(alice: User) -> None:
    for n in range(23):
        await alice.add(title=f"task {n:02d}")
    first = await _list(alice, limit=10, sort_by="title", sort_order="asc")
    assert (first["total"], first["pages"], first["page"], first["limit"]) == (23, 3, 1, 10)
    assert titles(first)[0] == "task 00"
    last = await _list(alice, limit=10, page=3, sort_by="title", sort_order="asc")
    assert titles(last) == ["task 20", "task 21", "task 22"]
    beyond = await _list(alice, limit=10, page=99)
    assert beyond["items"] == []
    assert beyond["total"] == 23
    seen = []
    for page in (1, 2, 3):
        seen += titles(await _list(alice, limit=10, page=page))
    assert sorted(seen) == sorted(f"task {n:02d}" for n in range(23))
    default = await _list(alice)
    assert default["limit"] == 20
    assert len(default["items"]) == 20


async def test_a_page_and_its_total_are_one_statement(board: User, container: Container) -> None:
    """The count rides along with the page; only a page past the last one asks
    for the count on its own (nothing came back to carry it)."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "FROM tasks" in statement:
            sent.append(statement)

    event.listen(container.engine.sync_engine, "after_cursor_execute", record)
    try:
        searched = await _list(board, q="report", status="active")
        found = (titles(searched), searched["total"], len(sent))
        assert found == (["Write quarterly report"], 1, 1)
        sent.clear()
        tagged = await _list(board, tags="work", limit=1, sort_by="title", sort_order="asc")
        assert (titles(tagged), tagged["total"], len(sent)) == (["Plan the team offsite"], 2, 1)
        sent.clear()
        nothing = await _list(board, q="zebra")
        assert (nothing["items"], nothing["total"], len(sent)) == ([], 0, 1)
        sent.clear()
        beyond = await _list(board, limit=2, page=9)
        assert (beyond["items"], beyond["total"], len(sent)) == ([], 5, 2)
    finally:
        event.remove(container.engine.sync_engine, "after_cursor_execute", record)
