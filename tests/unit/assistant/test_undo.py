"""What the conversation remembers for "undo", and the call that reverts each change."""

from typing import Any

import pytest

from assistant import undo
from assistant.parsing.undo import cancel_target, read_undo
from assistant.state import ChangeStep, ConversationState
from assistant.tools import ToolOutcome

TASK = {
    "id": "t1",
    "title": "Buy milk",
    "status": "active",
    "description": "oat",
    "priority": "none",
    "tags": ["errands"],
    "due_at": "2031-03-04T17:00:00-05:00",
    "remind_at": None,
    "timezone": "America/New_York",
    "recurrence_rule": None,
    "repeat_from": "due",
    "version": 1,
}


def ok(**changes: Any) -> ToolOutcome:
    return ToolOutcome(ok=True, text="done", structured={**TASK, **changes})


def test_a_change_remembers_only_the_fields_that_changed_and_reverts_them() -> None:
    state = ConversationState(user_id="u")
    after = ok(priority="high", remind_at="2031-03-04T09:00:00-05:00", description=None)
    undo.remember(state, "turn-1", "update_task", TASK, after)
    [change] = state.changes
    [step] = change.steps
    assert step.before == {"description": "oat", "priority": "none", "remind_at": None}
    assert undo.inverse(step) == (
        "update_task",
        {"task_id": "t1", "description": "oat", "priority": "none", "clear": ["remind_at"]},
    )
    assert state.changed_last is True


@pytest.mark.parametrize(
    ("tool", "before", "after", "inverse"),
    [
        ("add_task", None, ok(), "delete_task"),
        ("delete_task", None, ToolOutcome(True, "", {"id": "t1", "title": "x"}), "restore_task"),
        ("complete_task", TASK, ok(status="completed"), "reopen_task"),
        ("reopen_task", {**TASK, "status": "completed"}, ok(), "complete_task"),
    ],
)
def test_each_kind_of_change_has_its_inverse(
    tool: str, before: dict[str, Any] | None, after: ToolOutcome, inverse: str
) -> None:
    state = ConversationState(user_id="u")
    undo.remember(state, "turn", tool, before, after)
    assert undo.inverse(state.changes[0].steps[0]) == (inverse, {"task_id": "t1"})


def test_what_changed_nothing_or_failed_is_not_remembered() -> None:
    state = ConversationState(user_id="u")
    undo.remember(
        state, "t", "complete_task", {**TASK, "status": "completed"}, ok(status="completed")
    )
    undo.remember(state, "t", "update_task", TASK, ok())
    undo.remember(state, "t", "add_task", None, ToolOutcome(False, "title: must not be empty"))
    undo.remember(state, "t", "find_tasks", None, ToolOutcome(True, "", {"items": [], "total": 0}))
    assert state.changes == []
    assert state.empty


def test_one_turn_is_one_change_and_only_the_last_ten_turns_are_kept() -> None:
    state = ConversationState(user_id="u")
    undo.remember(state, "first", "add_task", None, ok(id="a"))
    undo.remember(state, "first", "add_task", None, ok(id="b"))
    assert [s.task_id for s in state.changes[0].steps] == ["a", "b"]
    for n in range(12):
        undo.remember(state, f"turn-{n}", "add_task", None, ok(id=f"t{n}"))
    assert len(state.changes) == undo.DEPTH
    assert state.changes[0].turn == "turn-2"


def test_the_summary_says_what_was_undone_and_what_failed() -> None:
    created = ChangeStep(kind="created", task_id="a", title="Buy milk")
    changed = ChangeStep(kind="changed", task_id="b", title="Rent", before={"due_at": None})
    outcome = undo.summary(
        [(created, ToolOutcome(True, "", {"id": "a", "title": "Buy milk", "deleted": True})),
         (changed, ToolOutcome(False, "no task b: call find_tasks to get the task_id"))]
    )  # fmt: skip
    assert outcome.ok is False
    assert outcome.text == (
        "Removed “Buy milk”, which had just been added. I could not undo the change to "
        "“Rent”: no task b: call find_tasks to get the task_id"
    )
    assert outcome.structured is not None
    assert outcome.structured["removed"] == ["a"]


@pytest.mark.parametrize(
    ("text", "target"),
    [("cancel that", "that"), ("Oops, cancel it", "it"), ("undo", None), ("take that back", None)],
)
def test_cancel_pronouns_are_told_apart_from_other_undo_phrases(
    text: str, target: str | None
) -> None:
    assert read_undo(text) is not None
    assert cancel_target(text) == target


@pytest.mark.parametrize(
    "text", ["cancel the dentist appointment", "undo completing the report", "cancel", "never mind"]
)
def test_requests_that_name_a_task_or_dismiss_are_not_undo(text: str) -> None:
    assert read_undo(text) is None
