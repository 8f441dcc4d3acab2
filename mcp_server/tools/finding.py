"""Reading tasks: `find_tasks` (how a model resolves "the dentist task") and `get_task`."""

from typing import Annotated, Literal

from mcp_types import CallToolResult
from pydantic import Field

from mcp_server import views
from mcp_server.runtime import ToolContext, acting
from mcp_server.tools.args import TaskId, When
from services.shared.timeutil import zone
from services.tasks import service
from services.tasks.schemas import PriorityName, SortField, TaskQuery

# The order a person expects when they name only the field: soonest due and
# A-Z first, but newest and most important first.
NATURAL_ORDER: dict[str, Literal["asc", "desc"]] = {
    "due_at": "asc",
    "title": "asc",
    "created_at": "desc",
    "updated_at": "desc",
    "priority": "desc",
}


def _summary(found: views.TaskList, today: str) -> str:
    if not found.items:
        empty = "No tasks match" if found.total == 0 else f"No tasks on page {found.page}"
        return f"{empty} ({today})."
    head = f"{len(found.items)} of {found.total} task{'s' if found.total != 1 else ''}"
    more = f", page {found.page} of {found.pages}" if found.pages > 1 else ""
    lines = "\n".join(f"- {views.line(t)}" for t in found.items)
    return f"{head} ({today}{more}):\n{lines}"


async def find_tasks(
    ctx: ToolContext,
    q: Annotated[str | None, Field(max_length=200, description="Words in title/notes")] = None,
    status: Literal["all", "active", "completed"] = "active",
    priority: list[PriorityName] | None = None,
    tags: Annotated[list[str] | None, Field(description="Has all of these")] = None,
    due_after: Annotated[When, Field(description="Date or time, inclusive")] = None,
    due_before: Annotated[When, Field(description="Date or time, inclusive")] = None,
    is_recurring: bool | None = None,
    overdue: Annotated[
        bool | None, Field(description="true: active and past its due time (even earlier today)")
    ] = None,
    sort_by: Annotated[SortField | None, Field(description="Default: soonest due first")] = None,
    sort_order: Literal["asc", "desc"] | None = None,
    page: Annotated[int, Field(ge=1)] = 1,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
) -> Annotated[CallToolResult, views.TaskList]:
    """Search the user's tasks; filters combine with AND. Use it to get the
    task_id of a task the user names ("the dentist task": q="dentist"), and for
    what is due on a day (due_after = due_before = that date); overdue=true
    for what is overdue (active, due time passed, also earlier today). Dates
    are days in the user's zone; the result says what today is."""
    async with acting(ctx) as (uow, user):
        sort_by = sort_by or ("updated_at" if status == "completed" else "due_at")
        query = TaskQuery(
            q=q,
            status=status,
            priority=priority or [],
            tags=[t.strip().lstrip("#").lower() for t in tags or []],
            due_after=due_after,
            due_before=due_before,
            is_recurring=is_recurring,
            overdue=overdue,
            sort_by=sort_by,
            sort_order=sort_order or NATURAL_ORDER[sort_by],
            page=page,
            limit=limit,
        )
        found = views.task_list(
            await service.list_tasks(uow, user=user, query=query), time_format=user.time_format
        )
    # Models often do not know the date, and "due today" means the user's today.
    local = views.now().astimezone(zone(user.timezone))
    return views.result(_summary(found, f"today is {local:%a %Y-%m-%d} in {user.timezone}"), found)


async def get_task(ctx: ToolContext, task_id: TaskId) -> Annotated[CallToolResult, views.TaskView]:
    """One task with all its fields (description, reminder, recurrence)."""
    async with acting(ctx) as (uow, user):
        task = views.task_view(
            await service.get_task(uow, user=user, task_id=task_id), time_format=user.time_format
        )
    notes = f"\n{task.description}" if task.description else ""
    return views.result(views.line(task) + notes, task)


__all__ = ["find_tasks", "get_task"]
