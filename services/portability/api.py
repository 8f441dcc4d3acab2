"""Routes: the calendar feed and its secret, export and import.

The feed is read with its own secret in the query (calendar apps cannot send
a bearer token); every other route acts as the authenticated user.
"""

from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from services.portability import feed
from services.portability.errors import ImportRefused, ImportTooLarge
from services.portability.export import export_document, export_tasks, tasks_csv
from services.portability.importing.service import import_file
from services.portability.schemas import (
    ExportDocument,
    ExportFormat,
    FeedKind,
    FeedTokenPublic,
    ImportFormat,
    ImportReport,
)
from services.portability.upload import read_upload
from services.shared.api_deps import ContainerDep, CurrentUser, UowDep
from services.shared.context import AppContext
from services.shared.http import PROBLEM, problem

router = APIRouter(tags=["portability"])
FEED = "calendar_feed"
ICAL = "text/calendar; charset=utf-8"


@router.post(
    "/api/calendar/token", status_code=status.HTTP_201_CREATED, response_model=FeedTokenPublic
)
async def create_feed_token(
    user: CurrentUser, uow: UowDep, container: ContainerDep, request: Request
) -> FeedTokenPublic:
    """Create or rotate the calendar feed secret; shown once. The old one stops working."""
    return await feed.issue_feed_token(uow, user=user, feed_url=_feed_url(request, container))


def _feed_url(request: Request, container: AppContext) -> str:
    """Where calendar apps fetch the feed: PUBLIC_URL when it is configured
    (behind a proxy the request's own host is an inside name), else the
    address this request came to."""
    settings = container.settings
    if "public_url" in settings.model_fields_set:
        app: FastAPI = request.app
        return settings.public_url.rstrip("/") + str(app.url_path_for(FEED))
    return str(request.url_for(FEED))


@router.delete(
    "/api/calendar/token",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "There is no feed secret to revoke"}},
)
async def revoke_feed_token(user: CurrentUser, uow: UowDep) -> Response:
    await feed.revoke_feed_token(uow, user=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


@router.get(
    "/api/calendar.ics",
    name=FEED,
    response_class=Response,
    responses={
        200: {"content": {"text/calendar": {}}},
        304: {"description": "Unchanged"},
        404: {"description": "No feed for this secret"},
    },
)
async def calendar_feed(
    token: Annotated[str, Query(min_length=1, max_length=4096, description="The feed secret")],
    uow: UowDep,
    kind: Annotated[FeedKind, Query(description="todo: VTODOs; event: VEVENTs")] = "todo",
    if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
) -> Response:
    """The user's dated tasks as iCalendar (RFC 5545)."""
    document = await feed.calendar_feed(uow, token=token, kind=kind)
    headers = {"ETag": document.etag, "Cache-Control": "private, no-cache"}
    if _matches(if_none_match, document.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    headers["Content-Disposition"] = 'inline; filename="todo.ics"'
    return Response(await document.render(), media_type=ICAL, headers=headers)


@router.get(
    "/api/export",
    response_model=ExportDocument,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export(
    user: CurrentUser, container: ContainerDep, format: ExportFormat = "json"
) -> Response:
    """Everything of yours as one JSON document, or your tasks as CSV."""
    if format == "csv":
        async with container.uow() as uow:
            tasks = await export_tasks(uow, user=user)
        return Response(
            tasks_csv(tasks),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="todo-tasks.csv"'},
        )
    document = await export_document(container, user=user)
    return Response(
        document.model_dump_json(),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="todo-export.json"'},
    )


_UPLOAD = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        "application/json": {"schema": {"type": "object"}},
        "text/csv": {"schema": {"type": "string"}},
        "text/calendar": {"schema": {"type": "string"}},
    },
}


@router.post(
    "/api/import",
    response_model=ImportReport,
    openapi_extra={"requestBody": _UPLOAD},
    responses={
        413: {"description": "The file is too large", "content": {PROBLEM: {}}},
        422: {"description": "Refused: the report lists every problem", "content": {PROBLEM: {}}},
    },
)
async def import_tasks(
    request: Request,
    user: CurrentUser,
    container: ContainerDep,
    dry_run: Annotated[
        bool, Query(description="Report what would be created; change nothing")
    ] = False,
    format: Annotated[ImportFormat | None, Query(description="Default: from the file")] = None,
) -> Response:
    """Import our JSON export, a CSV (title, description, due, priority, tags, …) or an
    iCalendar file of VTODOs; as a multipart field `file` or as the request body."""
    try:
        upload = await read_upload(request)
        async with container.uow() as uow:
            report = await import_file(
                uow,
                user=user,
                content=upload.content,
                dry_run=dry_run,
                declared=format,
                media_type=upload.media_type,
                filename=upload.filename,
            )
    except ImportTooLarge as exc:
        return problem(413, exc.title, exc.detail)
    except ImportRefused as exc:
        return _refused(exc)
    return JSONResponse(report.model_dump(mode="json"))


def _refused(exc: ImportRefused) -> JSONResponse:
    """422 problem+json whose `errors` name row and field, with the whole report."""
    body = {
        "type": "about:blank",
        "title": exc.title,
        "status": 422,
        "detail": exc.detail,
        "errors": [p.model_dump() for p in exc.report.errors],
        "report": exc.report.model_dump(mode="json"),
    }
    return JSONResponse(body, status_code=422, media_type=PROBLEM)


__all__ = ["router"]
