"""What a tool needs from its process: units of work, and who is calling.

The server is built around a `Runtime` handed over as its lifespan context;
each transport builds its own: stdio knows its one user at start-up, HTTP
reads the user of each request from the connection's verified token. Tools
never see a user id in their arguments, so a model cannot act as anyone else.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context
from pydantic import ValidationError

from mcp_server import errors
from services.errors import DomainError
from services.shared.auth.principal import Principal
from services.shared.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Runtime:
    open_uow: Callable[[], UnitOfWork]
    # Who is calling, resolved per call (HTTP) or fixed (stdio); raises
    # AuthError when the connection carries no user.
    caller: Callable[[], Principal]


ToolContext = Context[Runtime, Any]


def runtime(ctx: ToolContext) -> Runtime:
    return ctx.request_context.lifespan_context


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Turn the failures a caller can cause into tool errors that say what to fix."""
    try:
        yield
    except DomainError as exc:
        raise errors.from_domain(exc) from exc
    except ValidationError as exc:
        raise errors.from_validation(exc) from exc


def caller(ctx: ToolContext) -> Principal:
    try:
        return runtime(ctx).caller()
    except DomainError as exc:
        raise errors.from_domain(exc) from exc


@asynccontextmanager
async def acting(ctx: ToolContext) -> AsyncIterator[tuple[UnitOfWork, Principal]]:
    """A unit of work for the calling user; domain errors become tool errors."""
    async with translated():
        user = runtime(ctx).caller()
        async with runtime(ctx).open_uow() as uow:
            yield uow, user


__all__ = ["Runtime", "ToolContext", "acting", "caller", "runtime", "translated"]
