"""Streamable HTTP at `/mcp` inside task-api.

    app = build_app(container)
    mount_mcp(app)                      # the route, once, when building the app
    ...
    async with mcp_lifespan(app):       # in the app's lifespan, container set
        yield

The server is built in the lifespan because it needs the running container
(its settings and accounts); the route answers 503 until then. Requests need
`Authorization: Bearer <JWT or todo_pat_…>`, verified on every request; without
a valid one the answer is 401 with `WWW-Authenticate: Bearer`.

The transport is stateless: every POST carries its own credential and needs
no session kept in one replica's memory, so any replica behind a load
balancer can answer it, and no tool here needs server-to-client requests.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.auth import AccountTokenVerifier, connection_principal
from mcp_server.runtime import Runtime
from mcp_server.server import create_server
from services.shared.context import AppContext
from services.shared.http import problem

MCP_PATH = "/mcp"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def transport_security(public_url: str) -> TransportSecuritySettings:
    """Host and Origin checks (against DNS rebinding): loopback on any port,
    and the host the app is published at (`PUBLIC_URL`)."""
    public = urlsplit(public_url)
    hosts = [f"{host}:*" for host in LOOPBACK] + list(LOOPBACK)
    origins = [f"http://{host}:*" for host in LOOPBACK] + [f"http://{host}" for host in LOOPBACK]
    if public.netloc:
        hosts += [public.netloc, public.netloc.split(":")[0]]
        origins.append(f"{public.scheme}://{public.netloc}")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class _Endpoint:
    """Hands each request to the MCP app the lifespan started."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler: ASGIApp | None = getattr(self._app.state, "mcp_http", None)
        if handler is None:
            unavailable = problem(503, "Unavailable", "the MCP server is not running (yet)")
            await unavailable(scope, receive, send)
            return
        await handler(scope, receive, send)


def mount_mcp(app: FastAPI) -> None:
    """Route `/mcp` (every method) to the MCP server; `mcp_lifespan` runs it."""
    app.router.routes.append(Route(MCP_PATH, endpoint=_Endpoint(app), include_in_schema=False))


@asynccontextmanager
async def mcp_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the MCP server for `app` (its `state.container` must be set)."""
    container: AppContext = app.state.container
    settings = container.settings
    server = create_server(
        Runtime(open_uow=container.uow, caller=connection_principal),
        token_verifier=AccountTokenVerifier(container),
        # This app is its own authorization server (it issues the tokens); no
        # OAuth metadata is published, so clients send a token they were given.
        auth=AuthSettings(issuer_url=settings.public_url, resource_server_url=None),
    )
    handler = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        transport_security=transport_security(settings.public_url),
    )
    async with server.session_manager.run():
        app.state.mcp_http = handler
        try:
            yield
        finally:
            del app.state.mcp_http


__all__ = ["MCP_PATH", "mcp_lifespan", "mount_mcp", "transport_security"]
