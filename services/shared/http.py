"""The HTTP app factory shared by every service, and problem+json errors
(RFC 9457): every failure a client can cause is a 4xx that says what to fix."""

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from events.runtime import is_outage
from services.errors import (
    AuthError,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    VersionMismatch,
)
from services.shared.docs import mount_docs
from services.shared.middleware import Hardening, HttpMetrics
from services.shared.ratelimit import TooManyRequests

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)
# What a 503 for an unreachable database or bus tells the client to wait.
OUTAGE_RETRY_AFTER_SECONDS = 2

_STATUS: list[tuple[type[DomainError], int]] = [
    (InvalidInput, 422),
    (NotFound, 404),
    (VersionMismatch, 412),
    (Conflict, 409),
    (AuthError, 401),
]


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    malformed = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
    if malformed is not None:
        return _malformed_json(malformed, exc.body)
    errors = [
        {
            "field": _field(e.get("loc", ())),
            "message": e.get("msg", "invalid"),
            "type": e.get("type"),
        }
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "Invalid input", summary, errors=errors)


def _malformed_json(error: dict[str, Any], document: Any) -> JSONResponse:
    """The body is not JSON: say so and where (line and column, 1-based), not the
    character offset the parser reports as the error's location."""
    loc = error.get("loc", ())
    offset = loc[-1] if loc and isinstance(loc[-1], int) else None
    reason = (error.get("ctx") or {}).get("error") or "not JSON"
    where = ""
    if offset is not None:
        text = document if isinstance(document, str) else ""
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        where = f" at line {line}, column {column}"
    message = f"{reason}{where}"
    return problem(
        400,
        "Malformed JSON",
        f"the request body is not valid JSON: {message}",
        errors=[{"field": "body", "message": message, "type": "json_invalid"}],
    )


async def _on_domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    errors = None
    if isinstance(exc, InvalidInput):
        errors = [{"field": p.field, "message": p.message} for p in exc.problems]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyRequests):
        status, headers = 429, {"Retry-After": str(exc.retry_after)}
    return problem(status, exc.title, exc.detail, errors=errors, headers=headers)


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
    return problem(
        exc.status_code,
        titles.get(exc.status_code, "Request failed"),
        str(exc.detail),
        headers=getattr(exc, "headers", None),
    )


async def _on_database_refusal(request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot store (PostgreSQL refuses NUL characters in
    text) is the client's input problem, not a server error."""
    assert isinstance(exc, DBAPIError)
    if "0x00" in str(exc.orig) or "CharacterNotInRepertoire" in type(exc.orig).__name__:
        return problem(422, "Invalid input", "text must not contain NUL (\\u0000) characters")
    return await _on_unexpected(request, exc)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_outage(exc):
        # The database (or the bus) restarting or out of reach: not a bug, and
        # the same request is likely to work in a moment.
        log.warning(
            "%s %s: a service it needs is unreachable (%s: %s)",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc,
        )
        return problem(
            503,
            "Service unavailable",
            "the database or event bus cannot be reached right now; try again shortly",
            headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)},
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "Internal error", "something went wrong on our side; it was logged")


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: what went wrong and what to fix.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": ["string", "null"]},
                },
            },
        },
    },
}
_PROBLEM_TITLES = {
    400: "Malformed request",
    401: "Missing, expired or invalid credentials",
    404: "Not found (or not yours)",
    409: "Conflict",
    412: "The resource changed since the version in If-Match",
    413: "Request body too large",
    422: "Invalid input",
    429: "Too many requests (see Retry-After)",
    503: "The database or event bus is unreachable for now (see Retry-After)",
}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _problem_codes(operation: dict[str, Any]) -> set[int]:
    """The error answers an operation can give, from what it takes."""
    params = operation.get("parameters", [])
    codes: set[int] = set()
    if operation.get("security"):
        codes |= {401, 429, 503}  # 503: the credentials are checked in the database
    if any(p.get("in") == "path" for p in params):
        codes.add(404)
    if params or "requestBody" in operation:
        codes.add(422)
    if "requestBody" in operation:
        codes |= {400, 413, 503}
    return codes


def document_problems(app: FastAPI) -> None:
    """Declare the problem+json answers in the OpenAPI document: FastAPI's
    default 422 (application/json, its own shape) is replaced, and the errors
    every operation can give (401, 404, 413, 429, ...) are listed, so clients
    and schema-driven tests see what is really sent."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        problem_body = {"content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for item in schema.get("paths", {}).values():
            for method, operation in item.items():
                if method not in _METHODS:
                    continue
                responses = operation.setdefault("responses", {})
                declared = {int(c) for c in responses if c.isdigit() and int(c) >= 400}
                for code in sorted(_problem_codes(operation) | declared):
                    entry = responses.setdefault(str(code), {})
                    entry.setdefault("description", _PROBLEM_TITLES.get(code, "Problem"))
                    entry.update(problem_body)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    *, title: str, lifespan: Lifespan | None = None, cors_origins: Sequence[str] = ()
) -> FastAPI:
    """A service app with problem+json errors, security headers, a body limit
    and HTTP metrics; CORS only for `cors_origins` (none: no CORS headers)."""
    app = FastAPI(title=title, lifespan=lifespan, version="0.1.0", docs_url=None, redoc_url=None)
    mount_docs(app)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(DomainError, _on_domain)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(DBAPIError, _on_database_refusal)
    # Connection refused, reset or timed out (OSError): an outage, answered 503 below.
    app.add_exception_handler(OSError, _on_unexpected)
    app.add_exception_handler(Exception, _on_unexpected)
    document_problems(app)
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    if cors_origins:
        # Bearer tokens, not cookies: no credentials mode, so a listed origin
        # still cannot ride on a browser's ambient session.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
            expose_headers=["Location", "Retry-After", "ETag"],
            allow_credentials=False,
            max_age=600,
        )
    # Added last, so outermost: preflight answers get the security headers too.
    app.add_middleware(
        Hardening,
        metrics=HttpMetrics(registry),
        large_body_paths={"/api/import": 6 << 20},
    )
    return app
