"""Undo in a conversation with the offline assistant, through POST /api/chat:
each kind of change is reverted through the MCP tools, a second undo reverts the
change before, and "cancel that" means undo only right after a change. Alice
lives in America/New_York."""

from typing import Any

import sqlalchemy as sa

from events import CloudEvent
from events.outbox import outbox_table
from services.bootstrap import Container
from services.recurring.occurrences import OccurrenceHandler
from services.tasks.consumers import occurrence_subscription
from tests.conftest import User
from tests.integration.assistant.conftest import Reply, say, titles

UNDO = ["undo_last_change"]


def tools(reply: Reply) -> list[str]:
    return [call["name"] for call in reply.of("tool_call")]


async def tasks(user: User) -> dict[str, dict[str, Any]]:
    response = await user.get("/api/tasks", params={"status": "all", "limit": 100})
    return {t["title"]: t for t in response.json()["items"]}


def fields(task: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in task.items() if k not in ("version", "updated_at")}


async def test_undo_removes_a_task_just_added_without_asking(alice: User) -> None:
    added = await say(alice, "buy milk tomorrow at 5pm")
    assert await titles(alice) == ["Buy milk"]
    undone = await say(alice, "oops, undo that", added.conversation_id)
    assert tools(undone) == UNDO
    assert "confirm" not in undone.names
    [result] = undone.of("tool_result")
    assert result["ok"] is True
    assert result["result"]["undone"][0]["change"] == "created"
    assert undone.text == "Removed “Buy milk”, which had just been added."
    assert await titles(alice) == []
    again = await say(alice, "undo", added.conversation_id)
    assert tools(again) == []
    assert again.text == "There is nothing to undo in this conversation."


async def test_undo_restores_a_deleted_task_with_its_id_and_reminder(alice: User) -> None:
    task = await alice.add(
        title="Dentist appointment",
        due_at="2031-03-10T15:00",
        remind_at="2031-03-10T14:00",
        priority="high",
        tags=["health"],
    )
    asked = await say(alice, "delete the dentist appointment")
    assert asked.names[-2:] == ["confirm", "done"]
    deleted = await say(alice, "yes", asked.conversation_id)
    assert tools(deleted) == ["delete_task"]
    assert await titles(alice) == []

    undone = await say(alice, "take that back", asked.conversation_id)
    assert tools(undone) == UNDO
    assert undone.text == "Restored “Dentist appointment”."
    restored = (await tasks(alice))["Dentist appointment"]
    assert fields(restored) == fields(task)
    assert restored["version"] == task["version"] + 1


async def test_undo_puts_back_changed_values_one_change_at_a_time(alice: User) -> None:
    task = await alice.add(title="Buy milk", due_at="2031-03-04T17:00", description="oat")
    moved = await say(alice, "move buy milk to 7pm")
    conversation = moved.conversation_id
    assert tools(moved) == ["find_tasks", "get_task", "update_task"]
    await say(alice, "make buy milk high priority", conversation)
    await say(alice, "set a reminder for buy milk tomorrow at 9am", conversation)
    changed = (await tasks(alice))["Buy milk"]
    assert (changed["due_at"], changed["priority"]) == ("2031-03-04T19:00:00-05:00", "high")
    assert changed["remind_at"] is not None

    first = await say(alice, "undo", conversation)
    assert first.text == "Put back the reminder of “Buy milk”."
    assert (await tasks(alice))["Buy milk"]["remind_at"] is None
    second = await say(alice, "undo the last change", conversation)
    assert tools(second) == UNDO
    assert (await tasks(alice))["Buy milk"]["priority"] == "none"
    third = await say(alice, "undo", conversation)
    assert third.text == "Put back the due time of “Buy milk”."
    assert fields((await tasks(alice))["Buy milk"]) == fields(task)
    nothing = await say(alice, "undo", conversation)
    assert nothing.text == "There is nothing to undo in this conversation."


async def _events(container: Container, kind: str) -> list[CloudEvent]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(outbox_table.c.payload)
            .where(outbox_table.c.event_type == kind)
            .order_by(outbox_table.c.id)
        )
        return [CloudEvent.model_validate_json(payload) for (payload,) in rows]


async def test_undoing_a_completion_reopens_it_and_withdraws_the_next_occurrence(
    alice: User, container: Container
) -> None:
    await alice.add(title="Stand-up", due_at="2031-03-03T09:30", recurrence_rule="FREQ=WEEKLY")
    done = await say(alice, "mark the stand-up as done")
    assert tools(done) == ["find_tasks", "complete_task"]
    # What the recurring-task service and task-api do with task.completed.
    [completed] = await _events(container, "task.completed")
    await OccurrenceHandler(container.uow)(completed)
    [generated] = await _events(container, "task.occurrence.generated")
    await occurrence_subscription(container.uow).handler(generated)
    listed = await alice.get("/api/tasks", params={"status": "all"})
    assert listed.json()["total"] == 2

    undone = await say(alice, "undo", done.conversation_id)
    assert undone.text == "Reopened “Stand-up”. Its next occurrence is withdrawn."
    listed = (await alice.get("/api/tasks", params={"status": "all"})).json()
    assert [(t["title"], t["status"], t["due_at"]) for t in listed["items"]] == [
        ("Stand-up", "active", "2031-03-03T09:30:00-05:00")
    ]


async def test_undoing_a_reopen_completes_the_task_again(alice: User) -> None:
    task = await alice.add(title="Write the report")
    await alice.post(f"/api/tasks/{task['id']}/complete")
    reopened = await say(alice, "reopen the report")
    assert tools(reopened) == ["find_tasks", "reopen_task"]
    undone = await say(alice, "undo", reopened.conversation_id)
    assert undone.text == "Marked “Write the report” as done again."
    assert (await tasks(alice))["Write the report"]["status"] == "completed"


async def test_cancel_that_means_undo_only_right_after_a_change(alice: User) -> None:
    added = await say(alice, "call the bank friday at 10am")
    cancelled = await say(alice, "cancel that", added.conversation_id)
    assert tools(cancelled) == UNDO
    assert "confirm" not in cancelled.names
    assert await titles(alice) == []

    # After a search, "cancel it" deletes the task it points at, after a yes.
    await alice.add(title="Gym membership")
    listed = await say(alice, "show my tasks")
    asked = await say(alice, "cancel it", listed.conversation_id)
    assert asked.names[-2:] == ["confirm", "done"]
    assert "Gym membership" in asked.of("confirm")[0]["summary"]
    await say(alice, "no", listed.conversation_id)
    # "Cancel X" names a task: it is a delete, asked first, even after a change.
    await alice.add(title="Dentist appointment")
    changed = await say(alice, "make the gym membership high priority")
    named = await say(alice, "cancel the dentist appointment", changed.conversation_id)
    assert named.names[-2:] == ["confirm", "done"]
    assert "Dentist appointment" in named.of("confirm")[0]["summary"]
    assert await titles(alice) == ["Dentist appointment", "Gym membership"]


async def test_a_confirmed_bulk_change_is_undone_as_one(alice: User) -> None:
    for title in ("Report A", "Report B"):
        await alice.add(title=title)
    asked = await say(alice, "complete all my tasks")
    assert asked.names[-2:] == ["confirm", "done"]
    await say(alice, "yes", asked.conversation_id)
    assert await titles(alice, "completed") == ["Report A", "Report B"]
    undone = await say(alice, "undo", asked.conversation_id)
    assert tools(undone) == UNDO
    assert undone.text.count("Reopened") == 2
    assert await titles(alice, "active") == ["Report A", "Report B"]


async def test_each_conversation_undoes_its_own_changes(alice: User) -> None:
    one = await say(alice, "buy bread")
    two = await say(alice, "buy eggs")
    await say(alice, "undo", one.conversation_id)
    assert await titles(alice) == ["Buy eggs"]
    nothing = await say(alice, "undo")
    assert nothing.text == "There is nothing to undo in this conversation."
    assert two.conversation_id != one.conversation_id
