"""Dependencies of the routes, as `Annotated` aliases."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.errors import AuthError, InvalidInput
from services.shared.auth import accounts
from services.shared.auth.principal import Principal
from services.shared.context import AppContext
from services.shared.ratelimit import enforce
from services.shared.uow import UnitOfWork


async def _container(request: Request) -> AppContext:
    container: AppContext = request.app.state.container
    return container


ContainerDep = Annotated[AppContext, Depends(_container)]
# The dependencies of every task route (`UowDep`, `CurrentUser`) take the request
# and call `_container` themselves: each dependency FastAPI solves costs
# microseconds on every request.


async def _uow(request: Request) -> AsyncIterator[UnitOfWork]:
    async with (await _container(request)).uow() as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(_uow)]
_bearer = HTTPBearer(auto_error=False, description="An access token or a personal access token")


async def _current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    container = await _container(request)
    if credentials is None:
        raise AuthError("send Authorization: Bearer <access token>")
    # Its own short transaction: a route that reads through other connections
    # (exports, the audit trail) must not wait on one this request holds open.
    user = await accounts.resolve(
        container.principals, container.keys, credentials.credentials, container.reading
    )
    await enforce(
        container.limiter,
        f"user:{user.user_id}",
        container.settings.rate_limit_per_user_per_second,
        1.0,
    )
    return user


CurrentUser = Annotated[Principal, Depends(_current_user)]


async def _if_match(  # async: a plain function would run on a worker thread for every change
    if_match: Annotated[
        str | None, Header(description="The task version the change is based on")
    ] = None,
) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 9:
        raise InvalidInput("If-Match", 'must be the task\'s version number, e.g. "3"')
    return int(value)


IfMatch = Annotated[int | None, Depends(_if_match)]


async def _auth_attempts(request: Request, container: ContainerDep) -> None:
    """Sign-in and registration: a few per minute per client address, so
    passwords cannot be guessed at speed."""
    client = request.client.host if request.client else "unknown"
    await enforce(
        container.limiter, f"auth:{client}", container.settings.rate_limit_auth_per_minute, 60.0
    )


AuthAttempt = Depends(_auth_attempts)
