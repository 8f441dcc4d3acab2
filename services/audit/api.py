"""/api/audit: the caller's own audit trail, as pages or a streamed file."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from services.audit.trail import AuditPage, as_json_line, query_trail, stream_trail
from services.shared.api_deps import ContainerDep, CurrentUser

router = APIRouter(prefix="/api/audit", tags=["audit"])
CSV_COLUMNS = [
    "event_id",
    "event_type",
    "event_source",
    "event_time",
    "actor_id",
    "resource_type",
    "resource_id",
    "metadata",
]

EventTypeQ = Annotated[str | None, Query(max_length=64)]
ResourceQ = Annotated[str | None, Query(max_length=64)]
FromQ = Annotated[datetime | None, Query(alias="from")]
ToQ = Annotated[datetime | None, Query()]


@router.get("", response_model=AuditPage)
async def audit_trail(
    user: CurrentUser,
    container: ContainerDep,
    event_type: EventTypeQ = None,
    resource_id: ResourceQ = None,
    from_: FromQ = None,
    to: ToQ = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> AuditPage:
    return await query_trail(
        container.engine,
        actor=user.user_id,
        event_type=event_type,
        resource_id=resource_id,
        start=from_,
        end=to,
        page=page,
        limit=limit,
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The trail as a file: JSON lines or CSV",
            "content": {"application/json": {}, "text/csv": {}},
        }
    },
)
async def export_trail(
    user: CurrentUser,
    container: ContainerDep,
    format: Literal["csv", "json"] = "json",
    event_type: EventTypeQ = None,
    resource_id: ResourceQ = None,
    from_: FromQ = None,
    to: ToQ = None,
) -> StreamingResponse:
    entries = stream_trail(
        container.engine,
        actor=user.user_id,
        event_type=event_type,
        resource_id=resource_id,
        start=from_,
        end=to,
    )
    if format == "csv":
        return StreamingResponse(
            _csv(entries),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    return StreamingResponse(
        _json(entries),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="audit.json"'},
    )


async def _json(entries: AsyncIterator[object]) -> AsyncIterator[str]:
    yield "["
    first = True
    async for entry in entries:
        yield ("" if first else ",") + "\n" + as_json_line(entry)  # type: ignore[arg-type]
        first = False
    yield "\n]\n"


async def _csv(entries: AsyncIterator[object]) -> AsyncIterator[str]:
    import csv
    import io
    import json

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async for entry in entries:
        row = entry.model_dump(mode="json")  # type: ignore[attr-defined]
        row["metadata"] = json.dumps(row["metadata"], separators=(",", ":"))
        writer.writerow([row[c] for c in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
