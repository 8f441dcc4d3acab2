"""The model's path: the OpenAI SDK against a stand-in that speaks the Chat
Completions stream, scripted per test, with the real MCP tools behind it."""

import re
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import event

from assistant.chat import Assistant
from assistant.config import AssistantSettings
from assistant.conversations import store
from services.bootstrap import Container
from tests.conftest import MakeUser, User
from tests.integration.assistant.conftest import Reply, say, settings, titles
from testsupport.openai_standin import (
    OpenAIStandIn,
    call,
    failure,
    stall,
    text,
    tool_results,
    tools,
)

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def assistant_settings(openai_standin: OpenAIStandIn) -> AssistantSettings:
    return settings(
        openai_api_key="sk-standin",
        openai_base_url=openai_standin.base_url,
        chat_model_timeout_seconds=1.0,
    )


def ids_in(results: list[str]) -> list[str]:
    return [found for result in results for found in UUID.findall(result)]


async def test_a_turn_that_adds_a_task(alice: User, openai_standin: OpenAIStandIn) -> None:
    openai_standin.script(
        tools(call("add_task", {"title": "Buy milk", "due_at": "2031-01-01T17:00"})),
        text("Added Buy milk for New Year's Day at 5 pm."),
    )
    reply = await say(alice, "add buy milk on new year's day at 5pm")
    assert reply.names[:2] == ["tool_call", "tool_result"]
    assert reply.of("tool_call")[0]["name"] == "add_task"
    added = reply.of("tool_result")[0]
    assert added["ok"] is True
    assert added["result"]["due_at"] == "2031-01-01T17:00:00-05:00"
    assert reply.text == "Added Buy milk for New Year's Day at 5 pm."
    assert reply.names[-1] == "done"
    assert await titles(alice) == ["Buy milk"]

    first, second = openai_standin.requests
    assert first["stream"] is True
    assert first["model"] == "gpt-4o-mini"
    specs = {spec["function"]["name"]: spec for spec in first["tools"]}
    assert len(specs) == 12  # the MCP tools and the assistant's undo_last_change
    assert specs["undo_last_change"]["function"]["parameters"]["properties"] == {}
    assert "undo" in specs["undo_last_change"]["function"]["description"]
    assert specs["add_task"]["function"]["parameters"]["properties"]["title"]["type"] == "string"
    system = first["messages"][0]
    assert system["role"] == "system"
    assert "America/New_York" in system["content"]
    assert "Now, in their timezone:" in system["content"]
    assert first["messages"][-1] == {
        "role": "user",
        "content": "add buy milk on new year's day at 5pm",
    }
    assert "Buy milk" in tool_results(second)[0]


async def test_a_turn_with_two_tool_calls(alice: User, openai_standin: OpenAIStandIn) -> None:
    await alice.add(title="Buy milk")
    await alice.add(title="Call mom")

    def complete_what_was_found(request: dict[str, Any]) -> Any:
        (found,) = ids_in(tool_results(request))
        return tools(call("complete_task", {"task_id": found}))

    openai_standin.script(
        tools(call("find_tasks", {"q": "milk"})),
        complete_what_was_found,
        text("Done: Buy milk."),
    )
    reply = await say(alice, "I bought the milk")
    assert [c["name"] for c in reply.of("tool_call")] == ["find_tasks", "complete_task"]
    assert all(r["ok"] for r in reply.of("tool_result"))
    assert reply.text == "Done: Buy milk."
    assert await titles(alice, "completed") == ["Buy milk"]
    assert await titles(alice, "active") == ["Call mom"]
    assert len(openai_standin.requests) == 3


async def test_malformed_tool_arguments_go_back_to_the_model(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    def retry_after_reading_the_error(request: dict[str, Any]) -> Any:
        (error,) = tool_results(request)
        assert "not valid JSON" in error
        return tools(call("add_task", {"title": "Buy milk"}))

    openai_standin.script(
        tools(call("add_task", raw='{"title": "Buy milk"')),
        retry_after_reading_the_error,
        text("Added it."),
    )
    reply = await say(alice, "buy milk")
    first, second = reply.of("tool_result")
    assert first["ok"] is False
    assert "not valid JSON" in first["result"]
    assert reply.of("tool_call")[0]["arguments"] == '{"title": "Buy milk"'
    assert second["ok"] is True
    assert reply.text == "Added it."
    assert await titles(alice) == ["Buy milk"]


async def test_a_bad_argument_is_a_tool_error_the_model_can_fix(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    openai_standin.script(
        tools(call("add_task", {"title": "Buy milk", "due_at": "someday"})),
        lambda request: tools(call("add_task", {"title": "Buy milk", "due_at": "2031-02-03"})),
        text("Added."),
    )
    reply = await say(alice, "buy milk someday")
    first, second = reply.of("tool_result")
    assert first["ok"] is False
    assert first["result"].startswith("due_at")
    assert second["ok"] is True
    assert await titles(alice) == ["Buy milk"]


async def test_a_model_that_does_not_answer_ends_the_stream_with_an_error(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    openai_standin.script(stall(30))
    started = time.monotonic()
    reply = await say(alice, "anything")
    assert time.monotonic() - started < 10
    assert reply.status == 200
    assert reply.names == ["error"]
    assert "in time" in reply.of("error")[0]["detail"]


async def test_a_model_that_stalls_mid_stream_ends_it_with_an_error(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    openai_standin.script(stall(30, after_first_chunk=True))
    reply = await say(alice, "anything")
    assert reply.names[-1] == "error"
    assert "in time" in reply.of("error")[0]["detail"]


async def test_a_model_server_error_is_an_error_event(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    openai_standin.script(failure(503, "overloaded"))
    reply = await say(alice, "anything")
    assert reply.names == ["error"]
    assert "503" in reply.of("error")[0]["detail"]
    # The conversation goes on afterwards.
    openai_standin.script(text("Hello again."))
    again = await say(alice, "hello")
    assert again.text == "Hello again."


async def test_delete_is_held_until_the_user_says_yes(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    task = await alice.add(title="Old report")
    openai_standin.script(tools(call("delete_task", {"task_id": task["id"]})))
    asked = await say(alice, "delete the old report")
    assert asked.names == ["confirm", "done"]
    assert asked.of("confirm")[0]["summary"] == 'Delete "Old report"? Reply yes or no.'
    assert await titles(alice) == ["Old report"]

    openai_standin.script(text("Deleted the old report."))
    done = await say(alice, "yes", asked.conversation_id)
    assert [c["name"] for c in done.of("tool_call")] == ["delete_task"]
    assert done.of("tool_result")[0]["ok"] is True
    assert done.text == "Deleted the old report."
    assert await titles(alice) == []
    # The model saw its held call answered, then the confirmed call and its result.
    last = openai_standin.requests[-1]["messages"]
    assert any(m["role"] == "tool" and "waiting for the user" in m["content"] for m in last)
    assert "Deleted" in last[-1]["content"]


async def test_delete_then_no_cancels_without_asking_the_model(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    task = await alice.add(title="Old report")
    openai_standin.script(tools(call("delete_task", {"task_id": task["id"]})))
    asked = await say(alice, "delete the old report")
    requests = len(openai_standin.requests)
    kept = await say(alice, "no", asked.conversation_id)
    assert kept.text == "OK, I left everything as it was."
    assert len(openai_standin.requests) == requests
    assert await titles(alice) == ["Old report"]


async def test_one_update_runs_but_changing_two_tasks_waits(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    a = await alice.add(title="Report A")
    b = await alice.add(title="Report B")
    openai_standin.script(
        tools(call("update_task", {"task_id": a["id"], "priority": "high"})),
        text("Report A is high priority now."),
    )
    one = await say(alice, "make report A high priority")
    assert [c["name"] for c in one.of("tool_call")] == ["update_task"]
    assert "confirm" not in one.names

    openai_standin.script(
        tools(
            call("complete_task", {"task_id": a["id"]}),
            call("complete_task", {"task_id": b["id"]}),
        )
    )
    both = await say(alice, "complete both reports", one.conversation_id)
    assert both.names == ["confirm", "done"]
    summary = both.of("confirm")[0]["summary"]
    assert summary == 'Complete "Report A" and complete "Report B"? Reply yes or no.'
    assert await titles(alice, "completed") == []


async def test_history_is_carried_into_the_next_turn(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    openai_standin.script(text("Hi! What should I note down?"))
    first = await say(alice, "hello")
    openai_standin.script(text("Noted."))
    await say(alice, "nothing yet", first.conversation_id)
    messages = openai_standin.requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "Hi! What should I note down?"


async def test_a_turn_that_names_the_last_answer_does_not_read_the_history_back(
    alice: User, openai_standin: OpenAIStandIn, container: Container, assistant: Assistant
) -> None:
    """The client names the answer this process gave last: the model gets the
    history the process kept, the same as the database holds, with no read.
    Naming an answer that is not the last (another window went on meanwhile)
    reads the conversation from the database."""
    user_id = uuid.UUID(alice.id)
    reads: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "conversation_messages" in statement:
            reads.append(statement)

    async def stored(conversation_id: str) -> list[dict[str, Any]]:
        await assistant.settled()
        async with container.reading() as uow:
            found = await store.recent_messages(
                uow.connection, user_id, uuid.UUID(conversation_id), 200
            )
        assert found is not None
        return [m.to_openai() for m in found]

    async def turn(message: str, conversation_id: str, last_answer_id: str) -> Reply:
        reads.clear()
        event.listen(container.engine.sync_engine, "after_cursor_execute", record)
        try:
            return await say(alice, message, conversation_id, last_answer_id)
        finally:
            event.remove(container.engine.sync_engine, "after_cursor_execute", record)

    openai_standin.script(tools(call("add_task", {"title": "Buy milk"})), text("Added Buy milk."))
    first = await say(alice, "add buy milk")
    conversation = first.conversation_id
    before = await stored(conversation)
    assert [m["role"] for m in before] == ["user", "assistant", "tool", "assistant"]

    openai_standin.script(text("Anything else?"))
    second = await turn("thanks", conversation, first.done["message_id"])
    assert second.text == "Anything else?"
    assert reads == []
    assert openai_standin.requests[-1]["messages"][1:-1] == before

    before = await stored(conversation)
    openai_standin.script(text("Sure."))
    third = await turn("one more thing", conversation, first.done["message_id"])
    assert third.text == "Sure."
    assert len(reads) == 1
    assert openai_standin.requests[-1]["messages"][1:-1] == before
    assert len(before) == 6


async def test_tool_steps_are_bounded(alice: User, openai_standin: OpenAIStandIn) -> None:
    openai_standin.script(*[tools(call("find_tasks", {})) for _ in range(6)])
    reply = await say(alice, "look forever")
    assert len(reply.of("tool_call")) == 6
    assert reply.text.startswith("I stopped there")
    assert reply.names[-1] == "done"


async def test_tools_never_reach_another_users_task(
    alice: User, make_user: MakeUser, openai_standin: OpenAIStandIn
) -> None:
    bob = await make_user()
    secret = await bob.add(title="Bob's secret")
    openai_standin.script(
        tools(
            call("get_task", {"task_id": secret["id"]}),
            call("complete_task", {"task_id": secret["id"]}),
            call("update_task", {"task_id": secret["id"], "title": "pwned"}),
        ),
        tools(call("delete_task", {"task_id": secret["id"]})),
        text("I could not find that task."),
    )
    reply = await say(alice, f"complete task {secret['id']}")
    results = reply.of("tool_result")
    assert [r["ok"] for r in results] == [False, False, False, False]
    assert all("no task" in r["result"] for r in results)
    assert "confirm" not in reply.names  # an unknown task is not even proposed
    assert await titles(bob, "active") == ["Bob's secret"]
    assert (await bob.get(f"/api/tasks/{secret['id']}")).json()["version"] == 1


async def test_a_question_the_model_asked_is_answered_by_the_next_message(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    await alice.add(title="Dentist", due_at="2031-03-10T15:00")
    openai_standin.script(text("When should I remind you about the dentist?"))
    asked = await say(alice, "set a reminder for the dentist")
    assert asked.text == "When should I remind you about the dentist?"

    def answer_in_context(request: dict[str, Any]) -> Any:
        messages = request["messages"]
        # The question is in the history, right before the answer to it.
        assert messages[-2] == {
            "role": "assistant",
            "content": "When should I remind you about the dentist?",
        }
        assert messages[-1] == {"role": "user", "content": "the day before at 10am"}
        assert "never add the answer as a new task" in messages[0]["content"]
        specs = {spec["function"]["name"]: spec["function"] for spec in request["tools"]}
        assert "The day before at 10am" in specs["set_reminder"]["description"]
        assert "keep the task's time" in specs["update_task"]["description"]
        return tools(call("find_tasks", {"q": "dentist"}))

    def remind_the_day_before(request: dict[str, Any]) -> Any:
        (found,) = set(ids_in(tool_results(request)))
        return tools(call("set_reminder", {"task_id": found, "remind_at": "2031-03-09T10:00"}))

    openai_standin.script(answer_in_context, remind_the_day_before, text("Done."))
    answered = await say(alice, "the day before at 10am", asked.conversation_id)
    assert [c["name"] for c in answered.of("tool_call")] == ["find_tasks", "set_reminder"]
    assert answered.of("tool_result")[1]["result"]["remind_at"] == "2031-03-09T10:00:00-04:00"
    assert await titles(alice) == ["Dentist"]


async def test_minutes_before_due_sets_a_relative_reminder(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    task = await alice.add(title="Dinner with Sam", due_at="2031-03-04T19:00")
    openai_standin.script(
        tools(call("set_reminder", {"task_id": task["id"], "minutes_before_due": 60})),
        text("I'll remind you an hour before."),
    )
    reply = await say(alice, "remind me about dinner with sam an hour before")
    assert reply.of("tool_result")[0]["result"]["remind_at"] == "2031-03-04T18:00:00-05:00"


async def test_the_model_undoes_the_last_change_with_its_own_tool(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    task = await alice.add(title="Report A", due_at="2031-03-04T17:00")
    openai_standin.script(
        tools(
            call(
                "update_task",
                {"task_id": task["id"], "priority": "high", "due_at": "2031-03-05T09:00"},
            )
        ),
        text("Report A is high priority and due Wednesday at 9."),
    )
    changed = await say(alice, "make report A high priority, due wednesday 9am")
    assert (await alice.get(f"/api/tasks/{task['id']}")).json()["priority"] == "high"

    openai_standin.script(
        tools(call("undo_last_change")),
        lambda request: text(tool_results(request)[-1]),
    )
    undone = await say(alice, "oops, take that back", changed.conversation_id)
    assert [c["name"] for c in undone.of("tool_call")] == ["undo_last_change"]
    assert "confirm" not in undone.names
    assert undone.text == "Put back the priority and due time of “Report A”."
    after = (await alice.get(f"/api/tasks/{task['id']}")).json()
    assert (after["priority"], after["due_at"]) == ("none", "2031-03-04T17:00:00-05:00")

    openai_standin.script(
        tools(call("undo_last_change")),
        lambda request: text(tool_results(request)[-1]),
    )
    nothing = await say(alice, "undo", changed.conversation_id)
    assert nothing.of("tool_result")[0]["ok"] is False
    assert nothing.text == "Error: There is nothing to undo in this conversation."


async def propose_replacement(
    alice: User, openai_standin: OpenAIStandIn, old: dict[str, Any]
) -> Reply:
    """The model proposes adding "New report" and deleting `old`: two changes,
    so the turn asks for a yes first."""
    openai_standin.script(
        tools(
            call("add_task", {"title": "New report"}), call("delete_task", {"task_id": old["id"]})
        ),
    )
    asked = await say(alice, "replace the old report with a new one")
    assert asked.names[-2:] == ["confirm", "done"]
    return asked


async def undo_replacement(
    alice: User, openai_standin: OpenAIStandIn, conversation_id: str | None
) -> None:
    """One undo reverts all the yes ran, last call first."""
    openai_standin.script(
        tools(call("undo_last_change")), lambda request: text(tool_results(request)[-1])
    )
    undone = await say(alice, "undo", conversation_id)
    assert undone.text == "Restored “Old report”. Removed “New report”, which had just been added."
    assert await titles(alice) == ["Old report"]


async def test_the_model_undoes_what_a_yes_ran_as_one_change(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    old = await alice.add(title="Old report", remind_at="2031-01-01T09:00")
    asked = await propose_replacement(alice, openai_standin, old)
    openai_standin.script(text("Done."))
    await say(alice, "yes", asked.conversation_id)
    assert await titles(alice) == ["New report"]

    await undo_replacement(alice, openai_standin, asked.conversation_id)
    restored = (await alice.get(f"/api/tasks/{old['id']}")).json()
    assert restored["remind_at"] == old["remind_at"]


async def test_what_a_yes_ran_is_undone_even_when_the_model_then_failed(
    alice: User, openai_standin: OpenAIStandIn
) -> None:
    old = await alice.add(title="Old report")
    asked = await propose_replacement(alice, openai_standin, old)
    # The calls run, then the model fails to say so: the turn ends with an error.
    openai_standin.script(failure(500, "down"))
    ran = await say(alice, "yes", asked.conversation_id)
    assert ran.names[-1] == "error"
    assert await titles(alice) == ["New report"]

    # The changes were remembered all the same, and one undo reverts them.
    await undo_replacement(alice, openai_standin, asked.conversation_id)
