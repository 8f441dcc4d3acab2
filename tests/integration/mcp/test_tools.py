"""Every tool's happy path over streamable HTTP with the official client.

Alice lives in America/New_York, so wall-clock times come back with -05:00 or
-04:00 and phrases are computed against now in New York.
"""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema  # type: ignore[import-untyped]
from mcp import ClientSession
from mcp_types import CallToolResult

from tests.conftest import User
from tests.integration.mcp.conftest import structured, text, tools_by_name

NEW_YORK = ZoneInfo("America/New_York")


def today() -> date:
    return datetime.now(NEW_YORK).date()


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call, then check the structured output against the tool's own output schema."""
    result: CallToolResult = await session.call_tool(tool, arguments)
    body = structured(result)
    schema = (await tools_by_name(session))[tool].output_schema
    jsonschema.validate(body, schema)
    assert text(result), "every result carries a text summary"
    return body


async def test_add_get_and_find(alice: User, session_for: Any) -> None:
    tomorrow = today() + timedelta(days=1)
    async with session_for(alice) as session:
        added = await call(
            session,
            "add_task",
            title="Renew passport",
            description="bring the old one",
            priority="high",
            tags=["Admin", "#papers"],
            due_at=f"{tomorrow}T17:00",
            remind_at=f"{tomorrow}T16:45",
        )
        assert added["due_at"].startswith(f"{tomorrow}T17:00:00-0")
        assert added["due_phrase"] == "tomorrow 17:00"
        assert added["remind_phrase"] == "tomorrow 16:45"
        assert added["timezone"] == "America/New_York"
        assert added["tags"] == ["admin", "papers"]

        got = await call(session, "get_task", task_id=added["id"])
        assert got == added
        summary = text(await session.call_tool("get_task", {"task_id": added["id"]}))
        assert added["id"] in summary
        assert "tomorrow 17:00" in summary
        assert "bring the old one" in summary

        await call(session, "add_task", title="Water plants", tags=["home"])
        found = await call(session, "find_tasks", q="passport")
        assert [t["id"] for t in found["items"]] == [added["id"]]
        by_day = await call(
            session, "find_tasks", due_after=str(tomorrow), due_before=str(tomorrow)
        )
        assert [t["title"] for t in by_day["items"]] == ["Renew passport"]
        tagged = await call(session, "find_tasks", tags=["home"], priority=["none"])
        assert [t["title"] for t in tagged["items"]] == ["Water plants"]
        paged = await call(session, "find_tasks", limit=1, page=2, sort_by="title")
        assert paged["total"] == 2
        assert paged["pages"] == 2
        assert [t["title"] for t in paged["items"]] == ["Water plants"]


async def test_find_lists_in_a_summary_a_model_can_act_on(alice: User, session_for: Any) -> None:
    async with session_for(alice) as session:
        tomorrow = today() + timedelta(days=1)
        first = await call(session, "add_task", title="Call mom", due_at=f"{tomorrow}T09:00")
        await call(session, "add_task", title="Someday: learn Dutch")
        result = await session.call_tool("find_tasks", {})
        nothing = await session.call_tool("find_tasks", {"q": "zebra"})
    lines = text(result).splitlines()
    assert lines[0] == f"2 of 2 tasks (today is {today():%a %Y-%m-%d} in America/New_York):"
    # Soonest due first, undated last; each line names the id to act on.
    assert lines[1] == f'- "Call mom" [{first["id"]}], due tomorrow 09:00'
    assert lines[2].startswith('- "Someday: learn Dutch" [')
    assert text(nothing).startswith("No tasks match (today is ")


async def test_overdue_and_date_only_phrases(alice: User, session_for: Any) -> None:
    async with session_for(alice) as session:
        late = await call(
            session, "add_task", title="Pay rent", due_at=str(today() - timedelta(days=2))
        )
        later = await call(
            session, "add_task", title="Taxes", due_at=str(today() + timedelta(days=40))
        )
        overdue = await call(
            session,
            "find_tasks",
            status="active",
            due_before=str(today() - timedelta(days=1)),
        )
    assert late["due_phrase"].startswith("overdue 2 days (")
    assert late["due_at"].endswith(("T23:59:00-05:00", "T23:59:00-04:00"))
    assert ":" not in later["due_phrase"], "a date without a time reads as a day"
    assert [t["title"] for t in overdue["items"]] == ["Pay rent"]


async def test_update_keeps_the_recurrence_and_clears_on_request(
    alice: User, session_for: Any
) -> None:
    async with session_for(alice) as session:
        task = await call(
            session,
            "add_task",
            title="Standup",
            due_at="2030-03-04T09:00",
            remind_at="2030-03-04T08:55",
            recurrence_rule="freq=weekly;byday=MO,WE",
        )
        assert task["recurrence_rule"] == "FREQ=WEEKLY;BYDAY=MO,WE"
        moved = await call(session, "update_task", task_id=task["id"], due_at="2030-03-06T10:00")
        assert moved["due_at"] == "2030-03-06T10:00:00-05:00"
        assert moved["recurrence_rule"] == "FREQ=WEEKLY;BYDAY=MO,WE"
        assert moved["version"] == task["version"] + 1
        # Nulls are "not given": a client filling every parameter changes nothing else.
        renamed = await call(
            session,
            "update_task",
            task_id=task["id"],
            title="Team standup",
            description=None,
            due_at=None,
            recurrence_rule=None,
        )
        assert renamed["title"] == "Team standup"
        assert renamed["due_at"] == moved["due_at"]
        assert renamed["recurrence_rule"]
        cleared = await call(
            session, "update_task", task_id=task["id"], clear=["remind_at", "recurrence_rule"]
        )
        assert cleared["remind_at"] is None
        assert cleared["recurrence_rule"] is None
        assert cleared["is_recurring"] is False


async def test_complete_reopen_and_delete(alice: User, session_for: Any) -> None:
    async with session_for(alice) as session:
        task = await call(session, "add_task", title="Buy milk")
        done = await call(session, "complete_task", task_id=task["id"])
        assert done["status"] == "completed"
        assert done["completed_at"]
        again = await call(session, "complete_task", task_id=task["id"])
        assert again["version"] == done["version"], "completing twice changes nothing"
        completed = await call(session, "find_tasks", status="completed")
        assert [t["id"] for t in completed["items"]] == [task["id"]]
        reopened = await call(session, "reopen_task", task_id=task["id"])
        assert reopened["status"] == "active"
        assert reopened["completed_at"] is None
        deleted = await call(session, "delete_task", task_id=task["id"])
        assert deleted == {"id": task["id"], "title": "Buy milk", "deleted": True}
        gone = await session.call_tool("get_task", {"task_id": task["id"]})
    assert gone.is_error
    assert "no task" in text(gone)
    assert (await alice.get("/api/tasks")).json()["total"] == 0


async def test_a_deleted_task_is_restored_with_its_id_and_reminder(
    alice: User, session_for: Any
) -> None:
    due = today() + timedelta(days=3)
    async with session_for(alice) as session:
        task = await call(
            session, "add_task", title="Flight", due_at=f"{due}T18:30", remind_at=f"{due}T16:00"
        )
        deleted = await call(session, "delete_task", task_id=task["id"])
        restored = await call(session, "restore_task", task_id=deleted["id"])
        assert {k: v for k, v in restored.items() if k not in ("version", "updated_at")} == {
            k: v for k, v in task.items() if k not in ("version", "updated_at")
        }
        assert restored["version"] == task["version"] + 1
        again = await session.call_tool("restore_task", {"task_id": task["id"]})
        malformed = await session.call_tool("restore_task", {"task_id": "flight"})
    assert again.is_error
    assert text(again) == (
        f"no deleted task {task['id']} to restore: give the id delete_task returned, "
        "within 30 days of the deletion"
    )
    assert malformed.is_error
    assert text(malformed).startswith("task_id:")
    assert (await alice.get(f"/api/tasks/{task['id']}")).json()["remind_at"] == task["remind_at"]


async def test_set_reminder_at_a_time_or_before_the_due_time(alice: User, session_for: Any) -> None:
    due = today() + timedelta(days=3)
    async with session_for(alice) as session:
        task = await call(session, "add_task", title="Flight", due_at=f"{due}T18:30")
        before = await call(session, "set_reminder", task_id=task["id"], minutes_before_due=90)
        assert before["remind_at"].startswith(f"{due}T17:00:00-0")
        at = await call(session, "set_reminder", task_id=task["id"], remind_at=f"{due}T08:00")
        assert at["remind_at"].startswith(f"{due}T08:00:00-0")
        assert at["remind_phrase"] == datetime.fromisoformat(f"{due}T08:00").strftime("%A 08:00")


async def test_preview_recurrence_keeps_wall_clock_across_dst(
    alice: User, session_for: Any
) -> None:
    async with session_for(alice) as session:
        preview = await call(
            session,
            "preview_recurrence",
            rule="FREQ=DAILY",
            start="2030-03-09T09:00",
            count=3,
        )
        berlin = await call(
            session,
            "preview_recurrence",
            rule="FREQ=MONTHLY;BYMONTHDAY=31",
            start="2030-01-31T07:30",
            timezone="Europe/Berlin",
            count=2,
        )
    # US clocks go forward on 10 March 2030: 09:00 stays 09:00, the offset moves.
    assert [o["at"] for o in preview["occurrences"]] == [
        "2030-03-09T09:00:00-05:00",
        "2030-03-10T09:00:00-04:00",
        "2030-03-11T09:00:00-04:00",
    ]
    assert preview["timezone"] == "America/New_York"
    assert preview["occurrences"][0]["phrase"] == "Sat 9 Mar 2030 09:00"
    assert [o["at"] for o in berlin["occurrences"]] == [
        "2030-01-31T07:30:00+01:00",
        "2030-03-31T07:30:00+02:00",
    ]
