"""The events' JSON Schemas: GET /schemas/events/<type>.json, each event's `dataschema`.

Unauthenticated and cacheable: a schema only changes with a release, and
its ETag (the hash of its content) lets a client revalidate cheaply.
"""

import hashlib
import json
from functools import cache

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from events.schemas import DATA_MODELS, json_schema, schema_url
from events.topics import EventType
from services.shared.http import problem

router = APIRouter(tags=["event schemas"])

CACHE_CONTROL = "public, max-age=3600"


@cache
def _body(event_type: EventType) -> bytes:
    return json.dumps(json_schema(event_type), indent=2, sort_keys=True).encode()


@router.get("/schemas/events", summary="The event types and the URLs of their schemas")
async def index() -> JSONResponse:
    return JSONResponse(
        {"event_types": {t.value: schema_url(t.value) for t in DATA_MODELS}},
        headers={"Cache-Control": CACHE_CONTROL},
    )


@router.get(
    "/schemas/events/{name}",
    summary="The JSON Schema of one event type's data",
    responses={
        200: {
            "description": "a JSON Schema (2020-12)",
            "content": {"application/schema+json": {"schema": {"type": "object"}}},
        },
        304: {"description": "not modified (If-None-Match)"},
        404: {"description": "no such event type"},
    },
    response_model=None,
)
async def event_schema(name: str, request: Request) -> Response:
    event_type = name.removesuffix(".json")
    if not name.endswith(".json") or event_type not in EventType.__members__.values():
        known = ", ".join(f"{t.value}.json" for t in DATA_MODELS)
        return problem(404, "Not Found", f"no event schema {name!r}; there are: {known}")
    body = _body(EventType(event_type))
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/schema+json", headers=headers)
