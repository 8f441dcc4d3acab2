"""Creating and changing tasks: `add_task`, `update_task`, `set_reminder`."""

from datetime import timedelta
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field

from mcp_server import views
from mcp_server.runtime import ToolContext, acting
from mcp_server.tools.args import (
    Clearable,
    Description,
    Priority,
    RepeatFrom,
    Rule,
    Tags,
    TaskId,
    Title,
    When,
    Zone,
)
from services.tasks import service
from services.tasks.schemas import TaskCreate, TaskUpdate

MAX_MINUTES_BEFORE = 366 * 24 * 60


def _given(**fields: Any) -> dict[str, Any]:
    # `null` means "not given" in every tool (clients that fill every optional
    # parameter send nulls); removing a value is asked for explicitly (`clear`).
    return {name: value for name, value in fields.items() if value is not None}


async def add_task(
    ctx: ToolContext,
    title: Title,
    description: Description = None,
    priority: Priority = None,
    tags: Tags = None,
    due_at: When = None,
    remind_at: When = None,
    timezone: Zone = None,
    recurrence_rule: Rule = None,
    repeat_from: RepeatFrom = None,
) -> Annotated[CallToolResult, views.TaskView]:
    """Create a task. For a recurring task give recurrence_rule and due_at (the
    first occurrence). "Remind me to X at T" is due_at=T and remind_at=T."""
    async with acting(ctx) as (uow, user):
        data = TaskCreate.model_validate(
            _given(
                title=title,
                description=description,
                priority=priority,
                tags=tags,
                due_at=due_at,
                remind_at=remind_at,
                timezone=timezone,
                recurrence_rule=recurrence_rule,
                repeat_from=repeat_from,
            )
        )
        task = views.task_view(
            await service.create_task(uow, user=user, data=data), time_format=user.time_format
        )
    return views.result(f"Added {views.line(task)}", task)


async def update_task(
    ctx: ToolContext,
    task_id: TaskId,
    title: Title | None = None,
    description: Description = None,
    priority: Priority = None,
    tags: Annotated[Tags, Field(description="Replaces all tags")] = None,
    due_at: When = None,
    remind_at: When = None,
    timezone: Zone = None,
    recurrence_rule: Rule = None,
    repeat_from: RepeatFrom = None,
    clear: Annotated[list[Clearable] | None, Field(description="Fields to remove")] = None,
) -> Annotated[CallToolResult, views.TaskView]:
    """Change a task; only the fields given change. Moving due_at keeps the
    recurrence. When the user names only a new day, keep the task's time of
    day (and only a new time keeps its day); "2 days later" adds to the
    current due_at. To remove a value, name it in clear."""
    fields = _given(
        title=title,
        description=description,
        priority=priority,
        tags=tags,
        due_at=due_at,
        remind_at=remind_at,
        timezone=timezone,
        recurrence_rule=recurrence_rule,
        repeat_from=repeat_from,
    )
    cleared = set(clear or [])
    if both := sorted(cleared & fields.keys()):
        raise ToolError(f"{both[0]}: either give a new value or clear it, not both")
    if not fields and not cleared:
        raise ToolError("nothing to change: give at least one field, or clear")
    async with acting(ctx) as (uow, user):
        data = TaskUpdate.model_validate({**fields, **dict.fromkeys(cleared)})
        task = views.task_view(
            await service.update_task(uow, user=user, task_id=task_id, data=data),
            time_format=user.time_format,
        )
    return views.result(f"Updated {views.line(task)}", task)


async def set_reminder(
    ctx: ToolContext,
    task_id: TaskId,
    remind_at: When = None,
    minutes_before_due: Annotated[int | None, Field(ge=0, le=MAX_MINUTES_BEFORE)] = None,
) -> Annotated[CallToolResult, views.TaskView]:
    """Set when to be reminded of a task: at remind_at, or minutes_before_due
    before its due time ("an hour before" is 60, "2 days before" is 2880).
    "The day before at 10am" is remind_at at 10:00 on the day before the due
    date. Replaces an earlier reminder."""
    if (remind_at is None) == (minutes_before_due is None):
        raise ToolError("give exactly one of remind_at or minutes_before_due")
    async with acting(ctx) as (uow, user):
        target: Any = remind_at
        version = None
        if minutes_before_due is not None:
            current = await service.get_task(uow, user=user, task_id=task_id)
            if current.due_at is None:
                raise ToolError("the task has no due_at: give remind_at, or set due_at first")
            target = current.due_at - timedelta(minutes=minutes_before_due)
            # The reminder is computed from this version's due time; if the
            # task changes meanwhile, fail rather than remind at a stale time.
            version = current.version
        data = TaskUpdate.model_validate({"remind_at": target})
        task = views.task_view(
            await service.update_task(uow, user=user, task_id=task_id, data=data, if_match=version),
            time_format=user.time_format,
        )
    return views.result(f"Reminder set: {views.line(task)}", task)


__all__ = ["add_task", "set_reminder", "update_task"]
