"""A task's life: complete, reopen, skip an occurrence, delete."""

from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult

from mcp_server import views
from mcp_server.runtime import ToolContext, acting
from mcp_server.tools.args import TaskId
from services.tasks import service


async def complete_task(
    ctx: ToolContext, task_id: TaskId
) -> Annotated[CallToolResult, views.TaskView]:
    """Mark a task done. A recurring task's next occurrence is then created as
    a new task (find it with find_tasks); to skip one without doing it, use
    skip_occurrence."""
    async with acting(ctx) as (uow, user):
        task = views.task_view(
            await service.complete_task(uow, user=user, task_id=task_id),
            time_format=user.time_format,
        )
    follow = " Its next occurrence follows from its rule." if task.is_recurring else ""
    return views.result(f"Completed {views.line(task)}.{follow}", task)


async def reopen_task(
    ctx: ToolContext, task_id: TaskId
) -> Annotated[CallToolResult, views.TaskView]:
    """Make a completed task active again (undo complete_task)."""
    async with acting(ctx) as (uow, user):
        task = views.task_view(
            await service.reopen_task(uow, user=user, task_id=task_id), time_format=user.time_format
        )
    return views.result(f"Reopened {views.line(task)}", task)


async def skip_occurrence(
    ctx: ToolContext, task_id: TaskId
) -> Annotated[CallToolResult, views.TaskView]:
    """Recurring tasks only: skip this occurrence without doing it; the task
    moves to its next occurrence (its reminder moves along)."""
    async with acting(ctx) as (uow, user):
        task = views.task_view(
            await service.skip_occurrence(uow, user=user, task_id=task_id),
            time_format=user.time_format,
        )
    return views.result(f"Skipped; now {views.line(task)}", task)


async def delete_task(
    ctx: ToolContext, task_id: TaskId
) -> Annotated[CallToolResult, views.DeletedTask]:
    """Delete a task (a recurring one stops repeating); restore_task brings it
    back within 30 days. Confirm with the user first; to mark it done use
    complete_task instead."""
    async with acting(ctx) as (uow, user):
        task = await service.get_task(uow, user=user, task_id=task_id)
        await service.delete_task(uow, user=user, task_id=task_id, if_match=task.version)
    return views.result(
        f'Deleted "{task.title}" [{task.id}].', views.DeletedTask(id=task.id, title=task.title)
    )


async def restore_task(
    ctx: ToolContext, task_id: TaskId
) -> Annotated[CallToolResult, views.TaskView]:
    """Bring back a task deleted in the last 30 days (undo delete_task): the
    same id, fields and reminder."""
    try:
        async with acting(ctx) as (uow, user):
            task = views.task_view(await service.restore_task(uow, user=user, task_id=task_id))
    except ToolError as exc:
        if str(exc).startswith("no deleted task"):
            # find_tasks does not list deleted tasks: say where the id comes from.
            raise ToolError(
                f"no deleted task {task_id} to restore: give the id delete_task returned, "
                "within 30 days of the deletion"
            ) from exc
        raise
    return views.result(f"Restored {views.line(task)}", task)


__all__ = ["complete_task", "delete_task", "reopen_task", "restore_task", "skip_occurrence"]
