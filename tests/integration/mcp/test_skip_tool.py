"""`skip_occurrence` over streamable HTTP with the official client."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from tests.conftest import MakeUser, User
from tests.integration.mcp.conftest import structured, text


async def test_a_recurring_task_skips_to_its_next_occurrence(alice: User, session_for: Any) -> None:
    async with session_for(alice) as session:
        weekly = structured(
            await session.call_tool(
                "add_task",
                {
                    "title": "Piano lesson",
                    "due_at": "2030-01-07T17:00",  # a Monday
                    "remind_at": "2030-01-07T16:30",
                    "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO",
                },
            )
        )
        skipped = await session.call_tool("skip_occurrence", {"task_id": weekly["id"]})
        moved = structured(skipped)
        again = structured(await session.call_tool("skip_occurrence", {"task_id": weekly["id"]}))
        got = structured(await session.call_tool("get_task", {"task_id": weekly["id"]}))
    assert weekly["due_at"] == "2030-01-07T17:00:00-05:00"
    assert moved["id"] == weekly["id"]
    assert moved["due_at"] == "2030-01-14T17:00:00-05:00"
    assert moved["remind_at"] == "2030-01-14T16:30:00-05:00"
    assert moved["status"] == "active"
    assert moved["recurrence_rule"] == weekly["recurrence_rule"]
    assert text(skipped).startswith("Skipped; now ")
    assert "Piano lesson" in text(skipped)
    assert again["due_at"] == "2030-01-21T17:00:00-05:00"
    due = datetime.fromisoformat(again["due_at"]) - datetime.fromisoformat(again["remind_at"])
    assert due == timedelta(minutes=30), "the reminder keeps its lead"
    assert got == again
    rest = (await alice.get(f"/api/tasks/{weekly['id']}")).json()
    assert rest["due_at"].startswith("2030-01-21T")


async def test_a_task_that_does_not_repeat_cannot_skip(alice: User, session_for: Any) -> None:
    async with session_for(alice) as session:
        once = structured(
            await session.call_tool("add_task", {"title": "Dentist", "due_at": "2030-02-01T10:00"})
        )
        refused = await session.call_tool("skip_occurrence", {"task_id": once["id"]})
        after = structured(await session.call_tool("get_task", {"task_id": once["id"]}))
    assert refused.is_error
    assert refused.structured_content is None
    assert text(refused).startswith("task_id: only a recurring task")
    assert after == once, "nothing changed"


async def test_another_users_task_is_not_found(make_user: MakeUser, session_for: Any) -> None:
    alice, bob = await make_user(), await make_user()
    theirs = await alice.add(
        title="Alice's yoga", due_at="2030-03-04T18:00", recurrence_rule="FREQ=WEEKLY"
    )
    missing = str(uuid.uuid4())
    async with session_for(bob) as session:
        foreign = await session.call_tool("skip_occurrence", {"task_id": str(theirs["id"])})
        absent = await session.call_tool("skip_occurrence", {"task_id": missing})
        still = structured(await session.call_tool("find_tasks", {}))
    assert foreign.is_error
    assert text(foreign) == f"no task {theirs['id']}: call find_tasks to get the task_id"
    assert text(foreign).replace(str(theirs["id"]), "ID") == text(absent).replace(missing, "ID")
    assert still["total"] == 0, "the session keeps working"
    assert (await alice.get(f"/api/tasks/{theirs['id']}")).json() == theirs
