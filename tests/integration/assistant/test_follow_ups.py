"""The offline assistant in a conversation: questions it asks are answered by the
next message, edits keep what the user did not change, and reminders can be said
relative to the due time. Alice lives in America/New_York."""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.conftest import User
from tests.integration.assistant.conftest import Reply, say, titles

NEW_YORK = ZoneInfo("America/New_York")


def tools(reply: Reply) -> list[str]:
    return [call["name"] for call in reply.of("tool_call")]


async def task_named(user: User, title: str) -> dict[str, Any]:
    response = await user.get("/api/tasks", params={"status": "all", "limit": 100})
    assert response.status_code == 200, response.text
    [task] = [t for t in response.json()["items"] if t["title"] == title]
    return dict(task)


def local(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(NEW_YORK)


def next_weekday(weekday: int) -> datetime:
    """The coming `weekday` (0 = Monday) after today in New York, as the parser reads it."""
    today = datetime.now(NEW_YORK).date()
    ahead = (weekday - today.weekday()) % 7 or 7
    day = today + timedelta(days=ahead)
    return datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)


async def test_a_new_day_keeps_the_time_and_a_new_time_keeps_the_day(alice: User) -> None:
    added = await say(alice, "buy milk tomorrow at 5pm")
    moved = await say(alice, "move the milk task to friday", added.conversation_id)
    assert tools(moved) == ["find_tasks", "get_task", "update_task"]
    due = local((await task_named(alice, "Buy milk"))["due_at"])
    friday = next_weekday(4)
    assert (due.date(), due.hour, due.minute) == (friday.date(), 17, 0)

    # Tuesday 4 March 2031, 18:30: a later time stays on that Tuesday.
    await alice.add(title="Dinner with Sam", due_at="2031-03-04T18:30")
    pushed = await say(alice, "push dinner with sam to 7pm")
    assert pushed.text.startswith("Updated “Dinner with Sam”")
    assert (await task_named(alice, "Dinner with Sam"))["due_at"] == "2031-03-04T19:00:00-05:00"


async def test_shifts_move_the_due_time_by_wall_clock_days_across_dst(alice: User) -> None:
    # Clocks in New York go forward on Sunday 9 March 2031.
    await alice.add(title="Dentist", due_at="2031-03-08T09:00")
    later = await say(alice, "postpone the dentist by 2 days")
    assert tools(later) == ["find_tasks", "get_task", "update_task"]
    assert (await task_named(alice, "Dentist"))["due_at"] == "2031-03-10T09:00:00-04:00"
    back = await say(alice, "push it back an hour", later.conversation_id)
    assert tools(back) == ["get_task", "update_task"]
    assert (await task_named(alice, "Dentist"))["due_at"] == "2031-03-10T10:00:00-04:00"
    forward = await say(alice, "bring the dentist forward by 30 minutes")
    assert (await task_named(alice, "Dentist"))["due_at"] == "2031-03-10T09:30:00-04:00"
    assert forward.text.startswith("Updated “Dentist”")


async def test_a_repeating_task_keeps_its_rule_when_its_time_moves(alice: User) -> None:
    await alice.add(
        title="Team sync", due_at="2031-03-04T10:00", recurrence_rule="FREQ=WEEKLY;BYDAY=TU"
    )
    await say(alice, "move the team sync to 11am")
    task = await task_named(alice, "Team sync")
    assert task["due_at"] == "2031-03-04T11:00:00-05:00"
    assert task["recurrence_rule"] == "FREQ=WEEKLY;BYDAY=TU"


async def test_when_should_i_remind_you_is_answered_by_the_next_message(alice: User) -> None:
    await alice.add(title="File taxes", due_at="2031-04-15T17:00")
    asked = await say(alice, "set a reminder for file taxes")
    assert asked.text.startswith("When should I remind you about “file taxes”?")
    assert tools(asked) == []

    answered = await say(alice, "tomorrow at 9am", asked.conversation_id)
    assert tools(answered) == ["find_tasks", "set_reminder"]
    tomorrow = datetime.now(NEW_YORK).date() + timedelta(days=1)
    remind_at = local((await task_named(alice, "File taxes"))["remind_at"])
    assert (remind_at.date(), remind_at.hour) == (tomorrow, 9)
    assert await titles(alice) == ["File taxes"]  # the answer did not become a task


async def test_the_day_before_at_10am_counts_back_from_the_due_day(alice: User) -> None:
    await alice.add(title="Dentist appointment", due_at="2031-03-10T15:00")
    asked = await say(alice, "set a reminder for the dentist appointment")
    answered = await say(alice, "the day before at 10am", asked.conversation_id)
    assert tools(answered) == ["find_tasks", "get_task", "set_reminder"]
    task = await task_named(alice, "Dentist appointment")
    assert task["remind_at"] == "2031-03-09T10:00:00-04:00"
    assert await titles(alice) == ["Dentist appointment"]


async def test_a_relative_reminder_in_one_message(alice: User) -> None:
    await alice.add(title="Dinner with Sam", due_at="2031-03-04T19:00")
    reply = await say(alice, "remind me about dinner with sam an hour before")
    assert tools(reply) == ["find_tasks", "get_task", "set_reminder"]
    assert (await task_named(alice, "Dinner with Sam"))["remind_at"] == "2031-03-04T18:00:00-05:00"
    again = await say(alice, "change the reminder for dinner with sam to 2 days before")
    assert tools(again) == ["find_tasks", "get_task", "set_reminder"]
    assert (await task_named(alice, "Dinner with Sam"))["remind_at"] == "2031-03-02T19:00:00-05:00"


async def test_without_a_due_date_the_assistant_asks_for_one(alice: User) -> None:
    await alice.add(title="Call the bank")
    reminded = await say(alice, "remind me about the bank call 30 minutes before")
    assert reminded.text.startswith("“Call the bank” has no due date")
    answered = await say(alice, "friday at 9am", reminded.conversation_id)
    assert tools(answered) == ["set_reminder"]
    remind_at = local((await task_named(alice, "Call the bank"))["remind_at"])
    assert (remind_at.date(), remind_at.hour) == (next_weekday(4).date(), 9)

    await alice.add(title="Renew the passport")
    shifted = await say(alice, "postpone the passport by 2 days")
    assert shifted.text.startswith("“Renew the passport” has no due date yet. When is it due?")
    due = await say(alice, "monday at 5pm", shifted.conversation_id)
    assert tools(due) == ["get_task", "update_task"]
    due_at = local((await task_named(alice, "Renew the passport"))["due_at"])
    assert (due_at.date(), due_at.hour) == (next_weekday(0).date(), 17)


async def test_an_unreadable_answer_is_asked_again_and_cancel_drops_it(alice: User) -> None:
    await alice.add(title="Water the plants", due_at="2031-03-04T08:00")
    asked = await say(alice, "set a reminder for the plants")
    again = await say(alice, "whenever you feel like it", asked.conversation_id)
    assert again.text.startswith("I didn't catch that. When should I remind you")
    assert tools(again) == []
    dropped = await say(alice, "never mind", asked.conversation_id)
    assert dropped.text == "OK, I left “plants” as it was."
    later = await say(alice, "tomorrow at 9am", asked.conversation_id)
    assert tools(later) == []  # no question is open any more: not an answer, not a task
    assert await titles(alice) == ["Water the plants"]
    assert (await task_named(alice, "Water the plants"))["remind_at"] is None


async def test_a_new_request_instead_of_an_answer_is_served(alice: User) -> None:
    await alice.add(title="Pay rent", due_at="2031-03-01T09:00")
    asked = await say(alice, "postpone the rent task")
    assert asked.text.startswith("What should I change about “rent”?")
    listed = await say(alice, "what are my tasks", asked.conversation_id)
    assert tools(listed) == ["find_tasks"]
    assert "1. Pay rent" in listed.text
    answered = await say(alice, "high priority", asked.conversation_id)
    assert tools(answered) == []  # the question was dropped by the new request
    changed = await say(alice, "postpone the rent task", asked.conversation_id)
    assert changed.text.startswith("What should I change")
    done = await say(alice, "to friday at 10am", asked.conversation_id)
    assert tools(done) == ["find_tasks", "get_task", "update_task"]
    due = local((await task_named(alice, "Pay rent"))["due_at"])
    assert (due.date(), due.hour) == (next_weekday(4).date(), 10)


async def test_new_repeat_phrasing_reaches_the_task_service(alice: User) -> None:
    pill = await say(alice, "take my allergy pill every 8 hours")
    assert pill.of("tool_result")[0]["ok"] is True
    assert (await task_named(alice, "Take my allergy pill"))["recurrence_rule"] == (
        "FREQ=HOURLY;INTERVAL=8"
    )
    rent = await say(alice, "pay rent the 2nd and last friday of each month")
    assert rent.of("tool_result")[0]["ok"] is True
    task = await task_named(alice, "Pay rent")
    assert task["recurrence_rule"] == "FREQ=MONTHLY;BYDAY=2FR,-1FR"
    preview = await alice.get(f"/api/tasks/{task['id']}/occurrences", params={"count": 4})
    assert preview.status_code == 200, preview.text
    days = [local(o).day for o in preview.json()["occurrences"]]
    fridays = [local(o).weekday() for o in preview.json()["occurrences"]]
    assert set(fridays) == {4}
    assert all(d <= 14 or d >= 22 for d in days)  # the 2nd (8th-14th) and the last (22nd on)


async def test_a_time_in_a_named_zone_is_stored_as_that_instant(alice: User) -> None:
    reply = await say(alice, "call the Tokyo office at 9am Tokyo time on march 4 2031")
    assert reply.of("tool_result")[0]["ok"] is True
    task = await task_named(alice, "Call the Tokyo office")
    # 09:00 in Tokyo is 19:00 the evening before in New York (UTC-5 in early March).
    assert task["due_at"] == "2031-03-03T19:00:00-05:00"
