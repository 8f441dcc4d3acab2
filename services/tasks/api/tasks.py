"""/api/tasks and /api/recurrence."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from services.shared.api_deps import CurrentUser, IfMatch, UowDep
from services.tasks import service
from services.tasks.schemas import (
    OccurrencesPublic,
    SortField,
    TaskCreate,
    TaskPage,
    TaskPublic,
    TaskQuery,
    TaskUpdate,
)

router = APIRouter(prefix="/api", tags=["tasks"])
TaskId = Annotated[uuid.UUID, "the task's id"]


def _tagged(response: Response, task: TaskPublic) -> TaskPublic:
    response.headers["ETag"] = f'"{task.version}"'
    return task


def _comma_list(value: str | None) -> list[str]:
    return [p.strip().lower() for p in (value or "").split(",") if p.strip()]


async def _task_query(
    q: Annotated[str | None, Query(max_length=200, description="Full-text search")] = None,
    status_: Annotated[Literal["all", "active", "completed"], Query(alias="status")] = "all",
    priority: Annotated[str | None, Query(description="Comma list: high,medium")] = None,
    tags: Annotated[str | None, Query(description="Comma list; a task must have all")] = None,
    due_after: Annotated[str | None, Query(description="Date or datetime")] = None,
    due_before: Annotated[str | None, Query(description="Date or datetime")] = None,
    is_recurring: Annotated[bool | None, Query()] = None,
    overdue: Annotated[
        bool | None, Query(description="true: active and past its due time; false: not")
    ] = None,
    sort_by: Annotated[SortField | None, Query()] = None,
    sort_order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TaskQuery:
    try:
        return TaskQuery(
            q=q,
            status=status_,
            priority=_comma_list(priority),
            tags=_comma_list(tags),
            due_after=due_after,
            due_before=due_before,
            is_recurring=is_recurring,
            overdue=overdue,
            sort_by=sort_by,
            sort_order=sort_order,
            page=page,
            limit=limit,
        )
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
        ) from None


@router.post(
    "/tasks",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskPublic,
    responses={
        200: {"description": "The task of this `id` was created before with the same fields"},
        409: {"description": "The chosen `id` is taken by another task"},
    },
)
async def create_task(
    body: TaskCreate, user: CurrentUser, uow: UowDep, response: Response
) -> TaskPublic:
    task, created = await service.create_or_find_task(uow, user=user, data=body)
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/tasks/{task.id}"
    return _tagged(response, task)


@router.get("/tasks", response_model=TaskPage)
async def list_tasks(
    user: CurrentUser, uow: UowDep, query: Annotated[TaskQuery, Depends(_task_query)]
) -> TaskPage:
    return await service.list_tasks(uow, user=user, query=query)


@router.get("/tasks/{task_id}", response_model=TaskPublic)
async def get_task(
    task_id: uuid.UUID, user: CurrentUser, uow: UowDep, response: Response
) -> TaskPublic:
    return _tagged(response, await service.get_task(uow, user=user, task_id=task_id))


@router.patch("/tasks/{task_id}", response_model=TaskPublic)
async def update_task(
    task_id: uuid.UUID,
    body: TaskUpdate,
    user: CurrentUser,
    uow: UowDep,
    if_match: IfMatch,
    response: Response,
) -> TaskPublic:
    task = await service.update_task(uow, user=user, task_id=task_id, data=body, if_match=if_match)
    return _tagged(response, task)


@router.delete("/tasks/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_task(
    task_id: uuid.UUID, user: CurrentUser, uow: UowDep, if_match: IfMatch
) -> Response:
    await service.delete_task(uow, user=user, task_id=task_id, if_match=if_match)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/tasks/{task_id}/complete", response_model=TaskPublic)
async def complete_task(
    task_id: uuid.UUID, user: CurrentUser, uow: UowDep, if_match: IfMatch, response: Response
) -> TaskPublic:
    task = await service.complete_task(uow, user=user, task_id=task_id, if_match=if_match)
    return _tagged(response, task)


@router.post("/tasks/{task_id}/reopen", response_model=TaskPublic)
async def reopen_task(
    task_id: uuid.UUID, user: CurrentUser, uow: UowDep, if_match: IfMatch, response: Response
) -> TaskPublic:
    task = await service.reopen_task(uow, user=user, task_id=task_id, if_match=if_match)
    return _tagged(response, task)


@router.post(
    "/tasks/{task_id}/restore",
    response_model=TaskPublic,
    responses={
        409: {"description": "Its series has a task at the same occurrence now"},
        412: {"description": "If-Match is not the deleted task's version"},
    },
)
async def restore_task(
    task_id: uuid.UUID, user: CurrentUser, uow: UowDep, if_match: IfMatch, response: Response
) -> TaskPublic:
    """Bring back a task deleted in the last 30 days, with the same id, fields
    and reminder. 404 when there is no such deleted task of yours; 409 when its
    series has a task at the same occurrence meanwhile; with If-Match, 412 when
    the version is not the deleted one's."""
    task = await service.restore_task(uow, user=user, task_id=task_id, if_match=if_match)
    return _tagged(response, task)


@router.post("/tasks/{task_id}/skip", response_model=TaskPublic)
async def skip_occurrence(
    task_id: uuid.UUID, user: CurrentUser, uow: UowDep, if_match: IfMatch, response: Response
) -> TaskPublic:
    """Recurring tasks only: skip this occurrence and move to the next one."""
    task = await service.skip_occurrence(uow, user=user, task_id=task_id, if_match=if_match)
    return _tagged(response, task)


@router.get("/tasks/{task_id}/occurrences", response_model=OccurrencesPublic)
async def task_occurrences(
    task_id: uuid.UUID,
    user: CurrentUser,
    uow: UowDep,
    count: Annotated[int, Query(ge=1, le=100)] = 5,
) -> OccurrencesPublic:
    return await service.task_occurrences(uow, user=user, task_id=task_id, count=count)


class PreviewRequest(BaseModel):
    rule: Annotated[str, Field(max_length=500, description="RRULE body")]
    start: Annotated[datetime, Field(description="Local wall-clock time in `timezone`")]
    timezone: Annotated[str, Field(max_length=64)]
    count: Annotated[int, Field(ge=1, le=100)] = 5


@router.post("/recurrence/preview", response_model=OccurrencesPublic, tags=["recurrence"])
async def preview_recurrence(body: PreviewRequest, _: CurrentUser) -> OccurrencesPublic:
    return service.preview_recurrence(
        rule=body.rule, start=body.start, timezone=body.timezone, count=body.count
    )
