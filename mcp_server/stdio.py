"""MCP over stdio (`todo mcp`, for Claude Desktop and other local clients).

One process, one user: the user of `TODO_API_TOKEN` when it is set, otherwise
the local user of the embedded setup. stdout carries only the protocol.
"""

import os
import sys
from collections.abc import Callable

import anyio

from mcp_server.runtime import Runtime
from mcp_server.server import create_server
from services.errors import AuthError
from services.migrations.runner import upgrade
from services.shared.auth import accounts
from services.shared.auth.principal import Principal
from services.shared.context import AppContext
from services.shared.settings import get_settings

TOKEN_ENV = "TODO_API_TOKEN"  # noqa: S105 - the variable's name, not a secret


async def resolve_user(container: AppContext, token: str | None) -> Principal:
    settings = container.settings
    async with container.uow() as uow:
        if token:
            return await accounts.authenticate(uow, container.keys, token)
        if not settings.local_user_enabled:
            raise AuthError(f"set {TOKEN_ENV} to a personal access token (todo token create)")
        return await accounts.ensure_local_user(
            uow, email=settings.local_user_email, timezone=container.default_timezone
        )


async def serve(container: AppContext, token: str | None) -> None:
    # The container is not started: this process only writes tasks and their
    # outbox rows. Relaying the outbox is the server's job (`todo serve`);
    # relaying here onto an in-process bus would mark events sent that no
    # other service ever received.
    user = await resolve_user(container, token)
    server = create_server(Runtime(open_uow=container.uow, caller=lambda: user))
    await server.run_stdio_async()


async def _main(open_container: Callable[[], AppContext], token: str | None) -> None:
    container = open_container()
    try:
        await serve(container, token)
    finally:
        await container.aclose()


def run_stdio(open_container: Callable[[], AppContext]) -> None:
    """Serve MCP on stdin/stdout until the client closes them, with the
    container `open_container` builds (the command's composition root)."""
    settings = get_settings()
    sys.stderr.write(settings.data_notice + "\n")  # stdout belongs to the protocol
    if settings.is_sqlite:
        upgrade(settings.database_url)
    try:
        anyio.run(_main, open_container, os.environ.get(TOKEN_ENV) or None)
    except AuthError as exc:
        sys.stderr.write(f"todo mcp: {exc.detail}\n")  # stdout belongs to the protocol
        raise SystemExit(2) from None


__all__ = ["TOKEN_ENV", "resolve_user", "run_stdio", "serve"]
