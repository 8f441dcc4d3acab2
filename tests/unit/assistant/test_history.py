"""Trimming a conversation to the model's token budget."""

from assistant.history import estimate, trim
from assistant.messages import Message, ToolCall, assistant, tool_result, user


def test_keeps_the_newest_messages_that_fit() -> None:
    messages = [user("a" * 400), assistant("b" * 400), user("c" * 40), assistant("d" * 40)]
    budget = estimate(messages[2]) + estimate(messages[3]) + 1
    assert trim(messages, budget) == messages[2:]
    assert trim(messages, 10_000) == messages
    assert trim(messages, 0) == []


def test_tool_calls_travel_with_their_results() -> None:
    calls = Message(role="assistant", tool_calls=(ToolCall("c1", "find_tasks", "{}"),))
    result = tool_result("c1", "x" * 200)
    answer = assistant("done")
    messages = [user("find"), calls, result, answer]
    kept = trim(messages, estimate(answer) + estimate(result))  # not enough for the call too
    assert kept == [answer]
    assert trim(messages, sum(estimate(m) for m in messages[1:])) == messages[1:]


def test_never_starts_with_an_orphan_tool_result() -> None:
    messages = [tool_result("gone", "x"), user("hi"), assistant("hello")]
    assert trim(messages, 10_000) == messages[1:]


def test_a_call_without_all_its_results_is_dropped() -> None:
    calls = Message(
        role="assistant", tool_calls=(ToolCall("c1", "a", "{}"), ToolCall("c2", "b", "{}"))
    )
    messages = [user("x"), calls, tool_result("c1", "ok"), user("y")]
    assert trim(messages, 10_000) == [messages[0], messages[3]]
