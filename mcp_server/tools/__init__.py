"""The task tools (docs/reference.md, MCP) and how each one presents itself to clients.

The annotations are hints a client uses to decide what needs the person's
yes: only `update_task` (it overwrites values) and `delete_task` are
destructive; nothing reaches outside this app (`openWorldHint: false`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp_types import ToolAnnotations

from mcp_server.tools.editing import add_task, set_reminder, update_task
from mcp_server.tools.finding import find_tasks, get_task
from mcp_server.tools.lifecycle import (
    complete_task,
    delete_task,
    reopen_task,
    restore_task,
    skip_occurrence,
)
from mcp_server.tools.recurrence import preview_recurrence


@dataclass(frozen=True, slots=True)
class ToolSpec:
    fn: Callable[..., Any]
    title: str
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=self.destructive,
            idempotent_hint=self.idempotent or self.read_only,
            open_world_hint=False,
        )


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(find_tasks, "Find tasks", read_only=True),
    ToolSpec(get_task, "Get a task", read_only=True),
    ToolSpec(add_task, "Add a task"),
    ToolSpec(update_task, "Update a task", destructive=True, idempotent=True),
    ToolSpec(complete_task, "Complete a task", idempotent=True),
    ToolSpec(reopen_task, "Reopen a task", idempotent=True),
    ToolSpec(skip_occurrence, "Skip an occurrence"),
    ToolSpec(set_reminder, "Set a reminder", idempotent=True),
    ToolSpec(delete_task, "Delete a task", destructive=True, idempotent=True),
    ToolSpec(restore_task, "Restore a deleted task"),
    ToolSpec(preview_recurrence, "Preview a recurrence", read_only=True),
)

__all__ = ["TOOLS", "ToolSpec"]
