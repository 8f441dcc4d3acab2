"""Streamable HTTP at `/mcp` inside task-api.

    app = build_app(container)
    mount_mcp(app)                      # the route, once, when building the app
    ...
    async with mcp_lifespan(app):       # in the app's lifespan, container set
        yield

The server is built in the lifespan because it needs the running container
(its settings and accounts); the routes answer 503 until then. Requests need
`Authorization: Bearer <token>`, verified on every request: a sign-in JWT, a
personal access token (`todo_pat_…`), or an access token a remote client got
through the MCP authorization flow (`mcp_server.oauth`). Without a valid one
the answer is 401 with `WWW-Authenticate: Bearer …, resource_metadata="…"`
naming the protected resource metadata, where a client discovers the flow.

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
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.auth import connection_principal
from mcp_server.oauth import TodoOAuthProvider, consent_router, oauth_paths, oauth_routes
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
    """Hands each request to the app the lifespan started (`state.<name>`)."""

    def __init__(self, app: FastAPI, name: str = "mcp_http") -> None:
        self._app = app
        self._name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler: ASGIApp | None = getattr(self._app.state, self._name, None)
        if handler is None:
            unavailable = problem(503, "Unavailable", "the MCP server is not running (yet)")
            await unavailable(scope, receive, send)
            return
        await handler(scope, receive, send)


def mount_mcp(app: FastAPI) -> None:
    """Route `/mcp` (every method) to the MCP server and the OAuth endpoints
    to the authorization server; `mcp_lifespan` runs both."""
    app.router.routes.append(Route(MCP_PATH, endpoint=_Endpoint(app), include_in_schema=False))
    for path in oauth_paths(MCP_PATH):
        app.router.routes.append(
            Route(path, endpoint=_Endpoint(app, "mcp_oauth"), include_in_schema=False)
        )
    app.include_router(consent_router)


@asynccontextmanager
async def mcp_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the MCP server for `app` (its `state.container` must be set)."""
    container: AppContext = app.state.container
    settings = container.settings
    resource_url = settings.public_url.rstrip("/") + MCP_PATH
    provider = TodoOAuthProvider(container, resource_url)
    server = create_server(
        Runtime(open_uow=container.uow, caller=connection_principal),
        token_verifier=provider,
        # This app is its own authorization server (it issues the tokens). The
        # verifier checks each token's audience itself: OAuth tokens must name
        # this resource, sign-in JWTs and personal access tokens the API.
        auth=AuthSettings(
            issuer_url=settings.public_url,
            resource_server_url=resource_url,
            validate_token_resource=False,
        ),
    )
    handler = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        transport_security=transport_security(settings.public_url),
    )
    async with server.session_manager.run():
        app.state.mcp_http = handler
        app.state.mcp_oauth = Starlette(routes=oauth_routes(provider, MCP_PATH))
        try:
            yield
        finally:
            del app.state.mcp_http, app.state.mcp_oauth


__all__ = ["MCP_PATH", "mcp_lifespan", "mount_mcp", "transport_security"]
