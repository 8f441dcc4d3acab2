"""Bad arguments and other people's tasks: a tool error that says what to fix,
nothing revealed or changed, and the session goes on."""

import uuid
from typing import Any

from mcp import ClientSession

from tests.conftest import MakeUser, User
from tests.integration.mcp.conftest import structured, text


async def error_text(session: ClientSession, tool: str, **arguments: Any) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error, (tool, arguments, text(result))
    assert result.structured_content is None
    return text(result)


async def test_bad_arguments_say_what_to_fix(alice: User, session_for: Any) -> None:
    async with session_for(alice) as session:
        zone = await error_text(session, "add_task", title="x", timezone="Mars/Olympus_Mons")
        rule = await error_text(
            session, "add_task", title="x", due_at="2030-01-01", recurrence_rule="FREQ=SOMETIMES"
        )
        no_start = await error_text(session, "add_task", title="x", recurrence_rule="FREQ=DAILY")
        when = await error_text(session, "add_task", title="x", due_at="next tuesday-ish")
        past = await error_text(session, "add_task", title="x", remind_at="2001-01-01T09:00")
        kind = await error_text(session, "add_task", title="x", priority="urgent")
        missing = await error_text(session, "add_task", description="no title")
        page = await error_text(session, "find_tasks", limit=1000)
        preview = await error_text(
            session, "preview_recurrence", rule="FREQ=WEEKLY;BYDAY=XX", start="2030-01-01T09:00"
        )
        start = await error_text(session, "preview_recurrence", rule="FREQ=DAILY", start="soon")
        # After all that, the same session still works.
        fine = structured(await session.call_tool("add_task", {"title": "still here"}))
    assert zone.startswith("timezone: unknown timezone")
    assert "IANA" in zone
    assert rule.startswith("recurrence_rule: ")
    assert "SOMETIMES" in rule
    assert no_start.startswith("due_at: a recurring task needs due_at")
    assert when.startswith("due_at: ")
    assert "2030-03-03T17:00" in when
    assert past.startswith("remind_at: is in the past")
    assert kind.startswith("priority: ")
    assert "'high'" in kind
    assert missing.startswith("title: ")
    assert "required" in missing.lower()
    assert page.startswith("limit: ")
    assert "100" in page
    assert preview.startswith("rule: ")
    assert "XX" in preview
    assert start.startswith("start: ")
    for message in (zone, rule, when, kind, page):
        assert "pydantic" not in message
        assert "Error executing tool" not in message
    assert fine["title"] == "still here"


async def test_update_and_reminder_misuse(alice: User, session_for: Any) -> None:
    async with session_for(alice) as session:
        task = structured(await session.call_tool("add_task", {"title": "Undated"}))
        tid = task["id"]
        nothing = await error_text(session, "update_task", task_id=tid)
        both = await error_text(
            session, "update_task", task_id=tid, due_at="2030-01-01", clear=["due_at"]
        )
        no_due = await error_text(session, "set_reminder", task_id=tid, minutes_before_due=10)
        two_ways = await error_text(
            session, "set_reminder", task_id=tid, remind_at="2030-01-01", minutes_before_due=5
        )
        none_given = await error_text(session, "set_reminder", task_id=tid)
        not_recurring = await error_text(session, "skip_occurrence", task_id=tid)
        after = structured(await session.call_tool("get_task", {"task_id": tid}))
    assert nothing.startswith("nothing to change")
    assert both.startswith("due_at: either give a new value or clear it")
    assert no_due.startswith("the task has no due_at")
    assert two_ways == none_given == "give exactly one of remind_at or minutes_before_due"
    assert not_recurring.startswith("task_id: only a recurring task")
    assert after == task


async def test_another_users_task_is_just_not_found(make_user: MakeUser, session_for: Any) -> None:
    alice, bob = await make_user(), await make_user()
    secret = await alice.add(
        title="Alice's secret", due_at="2030-05-01", recurrence_rule="FREQ=YEARLY"
    )
    theirs, missing = str(secret["id"]), str(uuid.uuid4())
    calls: list[tuple[str, dict[str, Any]]] = [
        ("get_task", {}),
        ("update_task", {"title": "mine now"}),
        ("complete_task", {}),
        ("reopen_task", {}),
        ("skip_occurrence", {}),
        ("set_reminder", {"minutes_before_due": 5}),
        ("set_reminder", {"remind_at": "2030-04-30T09:00"}),
        ("delete_task", {}),
    ]
    async with session_for(alice) as session:
        await session.call_tool("delete_task", {"task_id": theirs})
    async with session_for(bob) as session:
        # Deleted, it is still not bob's to restore.
        restore = await error_text(session, "restore_task", task_id=theirs)
        assert restore.startswith(f"no deleted task {theirs} to restore"), restore
    async with session_for(alice) as session:
        restored = structured(await session.call_tool("restore_task", {"task_id": theirs}))
        assert restored["id"] == theirs
        secret = {**secret, "version": restored["version"], "updated_at": restored["updated_at"]}
    async with session_for(bob) as session:
        for tool, extra in calls:
            foreign = await error_text(session, tool, task_id=theirs, **extra)
            absent = await error_text(session, tool, task_id=missing, **extra)
            assert foreign == f"no task {theirs}: call find_tasks to get the task_id", tool
            # The answer for someone else's task is the answer for no task at all.
            assert foreign.replace(theirs, "ID") == absent.replace(missing, "ID"), tool
        found = structured(await session.call_tool("find_tasks", {"q": "secret", "status": "all"}))
    assert found["total"] == 0
    after = (await alice.get(f"/api/tasks/{theirs}")).json()
    assert after == secret
