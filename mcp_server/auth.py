"""Who is calling over HTTP: the bearer credential, verified per request.

The SDK's bearer middleware asks a `TokenVerifier` about every request and
keeps the answer in a context variable the tool call runs under; the answer
here is `mcp_server.oauth.TodoOAuthProvider` (a sign-in JWT, a personal access
token or an OAuth access token), with the user carried in the `AccessToken`. Its
subject also binds a session to its user: the SDK answers "session not
found" to anyone else presenting that session id.
"""

import uuid
from typing import Any, cast

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

from services.errors import AuthError
from services.shared.auth.principal import Principal
from services.shared.timeutil import TimeFormat

CLIENT_ID = "todo-app"


def access_token(
    token: str, user: Principal, issuer: str, client_id: str = CLIENT_ID
) -> AccessToken:
    claims: dict[str, Any] = {
        "iss": issuer,
        "email": user.email,
        "display_name": user.display_name,
        "timezone": user.timezone,
        "is_local": user.is_local,
        "time_format": user.time_format,
    }
    return AccessToken(
        token=token, client_id=client_id, scopes=[], subject=str(user.user_id), claims=claims
    )


def principal(token: AccessToken) -> Principal:
    claims = token.claims or {}
    if token.subject is None or "timezone" not in claims:
        raise AuthError("the connection's token does not name a user")
    return Principal(
        user_id=uuid.UUID(token.subject),
        email=str(claims["email"]),
        display_name=claims["display_name"],
        timezone=str(claims["timezone"]),
        is_local=bool(claims["is_local"]),
        time_format=cast(TimeFormat, str(claims.get("time_format", "auto"))),
    )


def connection_principal() -> Principal:
    """The user of the request being served (set by the bearer middleware)."""
    token = get_access_token()
    if token is None:
        raise AuthError("send Authorization: Bearer <access token or personal access token>")
    return principal(token)


__all__ = ["access_token", "connection_principal", "principal"]
