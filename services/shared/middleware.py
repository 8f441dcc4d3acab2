"""ASGI middleware every service app gets: HTTP metrics, security headers and
a request body limit. Plain ASGI (not BaseHTTPMiddleware), so streaming
responses and WebSockets pass through untouched."""

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'; object-src 'none'"
)


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "todo_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "todo_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )


class Hardening:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        max_body: int = 1 << 20,
        large_body_paths: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.large_body_paths = large_body_paths or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.large_body_paths.get(scope["path"], self.max_body)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit, _security_headers(scope))
            return
        started = time.perf_counter()
        status = 500
        received = 0
        over_limit = False
        answered = False

        async def limited_receive() -> Message:
            # A body sent without Content-Length (chunked) is counted as it
            # arrives; past the limit nothing more is read.
            nonlocal received, over_limit
            if over_limit:
                raise _BodyTooLarge
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                over_limit = True
                raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status, answered
            if over_limit and not answered:
                # Whatever the app made of the cut-off body (FastAPI answers 400
                # "error parsing the body") is replaced by the 413 below.
                return
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                headers = message.get("headers", [])
                message["headers"] = [*headers, *_security_headers(scope, headers)]
            await send(message)

        try:
            try:
                await self.app(scope, limited_receive, send_with_headers)
            except Exception:
                if not over_limit:  # anything raised past the limit is its echo
                    raise
            if over_limit and not answered:
                status = 413
                await _too_large(send, limit, _security_headers(scope))
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(time.perf_counter() - started)


class _BodyTooLarge(Exception):
    pass


def _security_headers(
    scope: Scope, present: list[tuple[bytes, bytes]] | None = None
) -> list[tuple[bytes, bytes]]:
    """The headers every answer gets; a route that sets its own, stricter
    content-security-policy (the API docs pages, with a nonce) keeps it."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]
    if not any(name.lower() == b"content-security-policy" for name, _ in present or ()):
        headers.append((b"content-security-policy", CSP.encode()))
    forwarded = dict(scope.get("headers") or []).get(b"x-forwarded-proto", b"")
    if scope.get("scheme") == "https" or forwarded == b"https":
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


async def _too_large(send: Send, limit: int, extra: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Payload too large",
            "status": 413,
            "detail": f"the request body is over the limit of {_size(limit)} ({limit} bytes)",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _size(limit: int) -> str:
    return f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit / 1024:g} KiB"
