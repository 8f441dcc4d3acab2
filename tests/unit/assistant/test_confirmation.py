"""What waits for the user's yes, and reading the yes."""

import pytest

from assistant.confirmation import action, held, read_answer, summary
from assistant.tools import ToolInfo


def tool(name: str, *, read_only: bool = False, destructive: bool = False) -> ToolInfo:
    return ToolInfo(name, "", {}, read_only=read_only, destructive=destructive)


TOOLS = {
    t.name: t
    for t in (
        tool("find_tasks", read_only=True),
        tool("add_task"),
        tool("update_task", destructive=True),
        tool("complete_task"),
        tool("delete_task", destructive=True),
        tool("archive_everything", destructive=True),
    )
}


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("yes", "yes"),
        ("Yes!", "yes"),
        ("y", "yes"),
        ("ok, go ahead", "yes"),
        ("sure, delete it", "yes"),
        ("do it", "yes"),
        ("no", "no"),
        ("No thanks", "no"),
        ("don't", "no"),
        ("never mind", "no"),
        ("yes, do not delete it", None),
        ("what is due today?", None),
        ("delete the other one instead please right now ok", None),
        ("", None),
    ],
)
def test_reads_yes_and_no(text: str, answer: str | None) -> None:
    assert read_answer(text) == answer


def test_deletes_are_held_single_updates_are_not() -> None:
    assert held([("delete_task", {"task_id": "a"})], TOOLS, set())
    assert not held([("update_task", {"task_id": "a", "title": "x"})], TOOLS, set())
    assert held([("archive_everything", {})], TOOLS, set())
    assert not held([("find_tasks", {}), ("add_task", {"title": "x"})], TOOLS, set())


def test_changing_more_than_one_task_is_held() -> None:
    two = [("complete_task", {"task_id": "a"}), ("complete_task", {"task_id": "b"})]
    assert held(two, TOOLS, set())
    assert not held([("complete_task", {"task_id": "a"})] * 2, TOOLS, set())
    # Within a turn: a second task after one was already changed.
    assert held([("complete_task", {"task_id": "b"})], TOOLS, {"a"})
    assert not held([("complete_task", {"task_id": "a"})], TOOLS, {"a"})
    assert held([("complete_task", {"task_ids": ["a", "b"]})], TOOLS, set())
    many_adds = [("add_task", {"title": str(n)}) for n in range(3)]
    assert not held(many_adds, TOOLS, set())


def test_summaries_name_the_tasks() -> None:
    assert summary([action("delete_task", "Milk")]) == 'Delete "Milk"? Reply yes or no.'
    both = summary([action("complete_task", "A"), action("delete_task", None)])
    assert both == 'Complete "A" and delete a task? Reply yes or no.'
