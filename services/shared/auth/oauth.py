"""OAuth 2.1 for remote MCP clients: the rules, free of any HTTP framework.

A client registers (RFC 7591), sends the user to `/authorize`, and the
request waits here until the signed-in user approves or denies it on the web
page. Approval gives the request a one-time code bound to the client, the
redirect URI and the PKCE challenge; exchanging it opens a *grant* (one
connected client of one user) and issues a short-lived access token (an RS256
JWT whose audience is the MCP resource URL, RFC 8707) and a refresh token.
Each refresh spends its token and issues a new pair; presenting a spent
refresh token (or a spent code) revokes the grant, so every token of that
family stops working. Revoking a grant on the page does the same.
"""

import secrets
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from services.errors import AuthError, NotFound
from services.shared.auth import accounts
from services.shared.auth.cache import PrincipalCache, credential_key
from services.shared.auth.keys import AUDIENCE, KeyRing
from services.shared.auth.oauth_store import AuthorizationRow, ClientRow, GrantRow, OAuthStore
from services.shared.auth.principal import Principal
from services.shared.auth.store import AccountStore

SCOPE = "tasks"
SCOPES = {SCOPE: "See, add, change, complete and delete your tasks"}
REQUEST_TTL = timedelta(minutes=10)
CODE_TTL = timedelta(minutes=2)
REFRESH_PREFIX = "todo_rt_"
CODE_PREFIX = "todo_code_"


class OAuthUoW(Protocol):
    accounts: AccountStore
    oauth: OAuthStore

    async def commit(self) -> None: ...

    def principals_changed(
        self, *, user_id: uuid.UUID | None = None, grant_id: uuid.UUID | None = None
    ) -> None: ...


class GrantRefused(Exception):
    """The code or refresh token cannot be used (`invalid_grant`)."""


@dataclass(frozen=True, slots=True)
class IssuedPair:
    access_token: str
    expires_in: int
    refresh_token: str
    scopes: list[str]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a bearer credential on `/mcp` acts for, and through which client."""

    user: Principal
    client_id: str | None  # None: a personal access token or a sign-in JWT
    grant_id: uuid.UUID | None
    scopes: list[str]
    expires_at: int | None
    resource: str | None


def _now() -> datetime:
    return datetime.now(UTC)


async def register_client(
    uow: OAuthUoW,
    *,
    client_id: str,
    secret: str | None,
    client_name: str | None,
    registration: dict[str, Any],
) -> None:
    await uow.oauth.add_client(
        client_id=client_id,
        secret=secret,
        client_name=client_name,
        registration=registration,
        now=_now(),
    )
    await uow.commit()


async def client(uow: OAuthUoW, client_id: str) -> ClientRow | None:
    return await uow.oauth.client(client_id)


async def start_authorization(
    uow: OAuthUoW,
    *,
    client_id: str,
    redirect_uri: str,
    redirect_uri_explicit: bool,
    code_challenge: str,
    state: str | None,
    scopes: list[str],
    resource: str,
) -> str:
    """Keeps the request until the user answers it; its id goes to the page."""
    request_id = secrets.token_urlsafe(24)
    now = _now()
    await uow.oauth.add_authorization(
        request_id=request_id,
        client_id=client_id,
        redirect_uri=redirect_uri,
        redirect_uri_explicit=redirect_uri_explicit,
        code_challenge=code_challenge,
        state=state,
        scopes=scopes,
        resource=resource,
        now=now,
        expires_at=now + REQUEST_TTL,
    )
    await uow.commit()
    return request_id


@dataclass(frozen=True, slots=True)
class PendingRequest:
    request: AuthorizationRow
    client: ClientRow


async def pending(uow: OAuthUoW, request_id: str) -> PendingRequest:
    request = await uow.oauth.pending_authorization(request_id, _now())
    found = await uow.oauth.client(request.client_id) if request else None
    if request is None or found is None:
        raise NotFound("this authorization request is unknown, answered or expired: start again")
    return PendingRequest(request, found)


async def approve(
    uow: OAuthUoW, *, request_id: str, user_id: uuid.UUID
) -> tuple[str, PendingRequest]:
    """The user consents: the request gets its one-time code."""
    answered = await pending(uow, request_id)
    code = CODE_PREFIX + secrets.token_urlsafe(32)
    now = _now()
    if not await uow.oauth.approve_authorization(
        request_id=request_id, user_id=user_id, code=code, now=now, expires_at=now + CODE_TTL
    ):
        raise NotFound("this authorization request is unknown, answered or expired: start again")
    await uow.commit()
    return code, answered


async def deny(uow: OAuthUoW, *, request_id: str) -> PendingRequest:
    answered = await pending(uow, request_id)
    await uow.oauth.delete_authorization(request_id)
    await uow.commit()
    return answered


async def authorized(uow: OAuthUoW, code: str, client_id: str) -> AuthorizationRow | None:
    """The approved, unspent authorization behind a code; changes nothing."""
    found = await uow.oauth.authorization_by_code(code)
    if found is None or found.client_id != client_id or found.user_id is None:
        return None
    return None if found.used_at is not None else found


async def code_for(uow: OAuthUoW, code: str, client_id: str) -> AuthorizationRow | None:
    """The approved authorization a code stands for. A code presented again
    after it was exchanged revokes what it issued (RFC 6749 §4.1.2)."""
    found = await uow.oauth.authorization_by_code(code)
    if found is None or found.client_id != client_id or found.user_id is None:
        return None
    if found.used_at is not None:
        if found.grant_id is not None:
            uow.principals_changed(grant_id=found.grant_id)
            await uow.oauth.revoke_grant(grant_id=found.grant_id, now=_now())
            await uow.commit()
        return None
    return found


async def _issue(
    uow: OAuthUoW,
    keys: KeyRing,
    *,
    grant_id: uuid.UUID,
    user_id: uuid.UUID,
    client_id: str,
    scopes: list[str],
    resource: str,
    access_ttl: timedelta,
    refresh_ttl: timedelta,
    now: datetime,
) -> IssuedPair:
    refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
    await uow.oauth.add_refresh_token(
        grant_id=grant_id, secret=refresh, now=now, expires_at=now + refresh_ttl
    )
    access = keys.issue(
        user_id,
        access_ttl,
        audience=resource,
        extra={"client_id": client_id, "grant": str(grant_id), "scope": " ".join(scopes)},
    )
    return IssuedPair(access, int(access_ttl.total_seconds()), refresh, scopes)


async def exchange_code(
    uow: OAuthUoW,
    keys: KeyRing,
    *,
    code: str,
    authorization: AuthorizationRow,
    access_ttl: timedelta,
    refresh_ttl: timedelta,
) -> IssuedPair:
    """Spends the code (once) and opens the grant."""
    assert authorization.user_id is not None
    now = _now()
    grant_id = await uow.oauth.add_grant(
        user_id=authorization.user_id,
        client_id=authorization.client_id,
        scopes=authorization.scopes,
        resource=authorization.resource,
        now=now,
    )
    if not await uow.oauth.spend_code(code=code, grant_id=grant_id, now=now):
        raise GrantRefused("the authorization code was already used")
    issued = await _issue(
        uow,
        keys,
        grant_id=grant_id,
        user_id=authorization.user_id,
        client_id=authorization.client_id,
        scopes=authorization.scopes,
        resource=authorization.resource,
        access_ttl=access_ttl,
        refresh_ttl=refresh_ttl,
        now=now,
    )
    await uow.commit()
    return issued


async def refresh_grant(uow: OAuthUoW, token: str, client_id: str) -> GrantRow | None:
    """The live grant behind a refresh token. A spent one is a sign the
    family leaked: presenting it revokes the grant and all its tokens."""
    found = await uow.oauth.refresh_token(token)
    if found is None or found.grant.client_id != client_id or found.grant.revoked_at is not None:
        return None
    if found.used_at is not None:
        uow.principals_changed(grant_id=found.grant.id)
        await uow.oauth.revoke_grant(grant_id=found.grant.id, now=_now())
        await uow.commit()
        return None
    if found.expires_at <= _now():
        return None
    return found.grant


async def rotate(
    uow: OAuthUoW,
    keys: KeyRing,
    *,
    token: str,
    grant: GrantRow,
    scopes: list[str],
    access_ttl: timedelta,
    refresh_ttl: timedelta,
) -> IssuedPair:
    """Spends the refresh token and issues the next pair of the family."""
    now = _now()
    if not await uow.oauth.spend_refresh_token(token, now):
        uow.principals_changed(grant_id=grant.id)
        await uow.oauth.revoke_grant(grant_id=grant.id, now=now)
        await uow.commit()
        raise GrantRefused("the refresh token was already used: the connection is revoked")
    await uow.oauth.touch_grant(grant.id, now)
    issued = await _issue(
        uow,
        keys,
        grant_id=grant.id,
        user_id=grant.user_id,
        client_id=grant.client_id,
        scopes=scopes,
        resource=grant.resource,
        access_ttl=access_ttl,
        refresh_ttl=refresh_ttl,
        now=now,
    )
    await uow.commit()
    return issued


async def authenticate(uow: OAuthUoW, keys: KeyRing, bearer: str, resource: str) -> Caller:
    """The caller behind a bearer credential on the MCP resource: a personal
    access token, a sign-in JWT (audience: the API), or an OAuth access token
    for exactly this resource whose grant is still in force."""
    return (await _authenticate_until(uow, keys, bearer, resource))[0]


async def _authenticate_until(
    uow: OAuthUoW, keys: KeyRing, bearer: str, resource: str
) -> tuple[Caller, float | None]:
    """`authenticate`, and when the credential expires (None: not until revoked)."""
    if bearer.startswith(accounts.PAT_PREFIX):
        user, until = await accounts.authenticate_until(uow, keys, bearer)
        return Caller(user, None, None, [SCOPE], None, None), until
    caller = await _authenticate_jwt(uow, keys, bearer, resource)
    return caller, caller.expires_at


async def _authenticate_jwt(uow: OAuthUoW, keys: KeyRing, bearer: str, resource: str) -> Caller:
    claims = keys.claims(bearer, [AUDIENCE, resource])
    audience = claims["aud"]
    if audience == AUDIENCE or (isinstance(audience, list) and AUDIENCE in audience):
        user = await accounts.authenticate(uow, keys, bearer)
        return Caller(user, None, None, [SCOPE], int(claims["exp"]), None)
    try:
        grant_id = uuid.UUID(str(claims.get("grant")))
    except ValueError:
        raise AuthError("the access token is not valid") from None
    found = await uow.oauth.active_grant(grant_id)
    if found is None:
        raise AuthError("this connection was revoked: connect the client again")
    grant, user = found
    if str(user.user_id) != claims["sub"]:
        raise AuthError("the access token is not valid")
    return Caller(
        user,
        grant.client_id,
        grant.id,
        str(claims.get("scope", "")).split(),
        int(claims["exp"]),
        resource,
    )


async def resolve(
    cache: PrincipalCache,
    keys: KeyRing,
    bearer: str,
    resource: str,
    open_uow: Callable[[], AbstractAsyncContextManager[OAuthUoW]],
) -> Caller:
    """`authenticate`, answered from `cache` while the entry lasts (never
    past the token's `exp`); dropped when its grant or user changes."""

    async def load() -> tuple[Caller, float | None]:
        async with open_uow() as uow:
            return await _authenticate_until(uow, keys, bearer, resource)

    def identify(
        found: tuple[Caller, float | None],
    ) -> tuple[uuid.UUID, uuid.UUID | None, float | None]:
        return found[0].user.user_id, found[0].grant_id, found[1]

    if not cache.enabled:
        return (await load())[0]
    return (await cache.resolve(credential_key(bearer, f"mcp:{resource}"), load, identify))[0]


async def connected_clients(uow: OAuthUoW, user_id: uuid.UUID) -> list[GrantRow]:
    return await uow.oauth.grants_of(user_id)


async def disconnect(uow: OAuthUoW, *, user_id: uuid.UUID, grant_id: uuid.UUID) -> None:
    """The user revokes a connected client: its tokens stop working at once."""
    uow.principals_changed(grant_id=grant_id)
    if not await uow.oauth.revoke_grant(grant_id=grant_id, now=_now(), user_id=user_id):
        raise NotFound("no such connected client")
    await uow.commit()


async def revoke(uow: OAuthUoW, grant_id: uuid.UUID) -> None:
    """A client revokes its own token (RFC 7009): the whole grant goes."""
    uow.principals_changed(grant_id=grant_id)
    await uow.oauth.revoke_grant(grant_id=grant_id, now=_now())
    await uow.commit()
