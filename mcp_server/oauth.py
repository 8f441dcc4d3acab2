"""The MCP authorization flow (OAuth 2.1) for remote clients, on the SDK.

The SDK's handlers answer `/authorize`, `/token`, `/register` and `/revoke`
and publish the metadata documents; `TodoOAuthProvider` answers their
questions from `services.shared.auth.oauth`, where the rules live. What the
SDK leaves open is decided here:

- client secrets are stored as their SHA-256, so the token and revocation
  endpoints check them with `HashedClientAuthenticator` instead of the SDK's
  plain comparison;
- `resource` (RFC 8707) must name this server's `/mcp`, at `/authorize` and at
  `/token` (`invalid_target` otherwise); tokens carry it as their audience;
- redirect URIs must be HTTPS, or HTTP on a loopback host (RFC 8252);
- `/authorize` sends the user to the web page (`/?oauth_request=<id>`), which
  signs them in and shows the consent; its answer goes through
  `consent_router`.
"""

import base64
import binascii
import hmac
import time
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Path, Response, status
from mcp.server.auth.handlers.authorize import AuthorizationHandler
from mcp.server.auth.handlers.metadata import MetadataHandler, ProtectedResourceMetadataHandler
from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.handlers.revoke import RevocationHandler
from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.json_response import PydanticJSONResponse
from mcp.server.auth.middleware.client_auth import AuthenticationError, ClientAuthenticator
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.routes import (
    build_metadata,
    cors_middleware,
)
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken, ProtectedResourceMetadata
from pydantic import AnyHttpUrl, AnyUrl, BaseModel, ConfigDict, Field, TypeAdapter
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_server.auth import CLIENT_ID, access_token
from services.errors import AuthError
from services.shared.api_deps import CurrentUser, UowDep
from services.shared.auth import oauth
from services.shared.auth.store import digest
from services.shared.context import AppContext
from services.shared.ratelimit import TooManyRequests, enforce

AUTHORIZE_PATH = "/authorize"
TOKEN_PATH = "/token"  # noqa: S105 - a path, not a secret
REGISTER_PATH = "/register"
REVOKE_PATH = "/revoke"
AS_METADATA_PATH = "/.well-known/oauth-authorization-server"
PRM_PATH = "/.well-known/oauth-protected-resource"
CONSENT_PARAM = "oauth_request"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_REDIRECT_URIS = 10
MAX_CLIENT_NAME = 200
# RFC 8414 compares issuers as strings: `http://host:port` must not gain a "/".
_URL = TypeAdapter(AnyHttpUrl, config=ConfigDict(url_preserve_empty_path=True))


def oauth_paths(mcp_path: str) -> list[str]:
    """Every path the flow answers on, the resource metadata in both forms:
    under the MCP endpoint's path (RFC 9728 §3.1) and at the root."""
    return [
        AS_METADATA_PATH,
        PRM_PATH,
        PRM_PATH + mcp_path,
        AUTHORIZE_PATH,
        TOKEN_PATH,
        REGISTER_PATH,
        REVOKE_PATH,
    ]


def _same_resource(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _redirect_uri_allowed(uri: AnyUrl) -> bool:
    if uri.scheme == "https":
        return True
    return uri.scheme == "http" and (uri.host or "") in LOOPBACK


class GrantRefresh(RefreshToken):
    grant_id: uuid.UUID


class GrantAccess(AccessToken):
    grant_id: uuid.UUID | None = None


class TodoOAuthProvider:
    """The SDK's `OAuthAuthorizationServerProvider`, and the `/mcp` token verifier."""

    def __init__(self, container: AppContext, resource_url: str) -> None:
        self.container = container
        self.resource_url = resource_url
        self.public_url = container.settings.public_url.rstrip("/")
        settings = container.settings
        self._access_ttl = timedelta(seconds=settings.oauth_access_token_ttl_seconds)
        self._refresh_ttl = timedelta(days=settings.oauth_refresh_token_ttl_days)

    # clients

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        async with self.container.reading() as uow:
            row = await oauth.client(uow, client_id)
        if row is None:
            return None
        # `client_secret` holds the secret's digest: only `HashedClientAuthenticator` reads it.
        return OAuthClientInformationFull.model_validate(
            {**row.registration, "client_id": row.client_id, "client_secret": row.secret_hash}
        )

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        uris = client_info.redirect_uris or []
        if not uris or len(uris) > MAX_REDIRECT_URIS:
            raise RegistrationError(
                "invalid_redirect_uri", f"send 1 to {MAX_REDIRECT_URIS} redirect_uris"
            )
        for uri in uris:
            if not _redirect_uri_allowed(uri) or uri.fragment:
                raise RegistrationError(
                    "invalid_redirect_uri",
                    f"{uri}: a redirect URI must be https://, or http:// on a loopback "
                    "host, without a fragment",
                )
        if client_info.client_name and len(client_info.client_name) > MAX_CLIENT_NAME:
            raise RegistrationError(
                "invalid_client_metadata", f"client_name: at most {MAX_CLIENT_NAME} characters"
            )
        registration = client_info.model_dump(
            mode="json", exclude={"client_id", "client_secret"}, exclude_none=True
        )
        async with self.container.uow() as uow:
            await oauth.register_client(
                uow,
                client_id=client_info.client_id or "",
                secret=client_info.client_secret,
                client_name=client_info.client_name,
                registration=registration,
            )

    # authorization

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        resource = params.resource or self.resource_url
        if not _same_resource(resource, self.resource_url):
            raise AuthorizeError(
                "invalid_target",
                f"resource must be this server's MCP endpoint, {self.resource_url}",
            )
        scopes = params.scopes or (client.scope.split() if client.scope else [oauth.SCOPE])
        unknown = [scope for scope in scopes if scope not in oauth.SCOPES]
        if unknown:
            raise AuthorizeError("invalid_scope", f"unknown scope: {', '.join(unknown)}")
        async with self.container.uow() as uow:
            request_id = await oauth.start_authorization(
                uow,
                client_id=client.client_id or "",
                redirect_uri=str(params.redirect_uri),
                redirect_uri_explicit=params.redirect_uri_provided_explicitly,
                code_challenge=params.code_challenge,
                state=params.state,
                scopes=scopes,
                resource=self.resource_url,
            )
        return f"{self.public_url}/?{CONSENT_PARAM}={request_id}"

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        async with self.container.uow() as uow:
            row = await oauth.code_for(uow, authorization_code, client.client_id or "")
        if row is None:
            return None
        return AuthorizationCode(
            code=authorization_code,
            scopes=row.scopes,
            expires_at=row.expires_at.timestamp(),
            client_id=row.client_id,
            code_challenge=row.code_challenge,
            redirect_uri=AnyUrl(row.redirect_uri),
            redirect_uri_provided_explicitly=row.redirect_uri_explicit,
            resource=row.resource,
            subject=str(row.user_id),
        )

    async def authorized_redirect(self, client_id: str, code: str) -> str | None:
        """The redirect URI a live code was authorized with, when sent explicitly."""
        async with self.container.reading() as uow:
            row = await oauth.authorized(uow, code, client_id)
        return row.redirect_uri if row is not None and row.redirect_uri_explicit else None

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        async with self.container.uow() as uow:
            row = await oauth.code_for(uow, authorization_code.code, client.client_id or "")
            if row is None:
                raise TokenError("invalid_grant", "authorization code does not exist")
            try:
                issued = await oauth.exchange_code(
                    uow,
                    self.container.keys,
                    code=authorization_code.code,
                    authorization=row,
                    access_ttl=self._access_ttl,
                    refresh_ttl=self._refresh_ttl,
                )
            except oauth.GrantRefused as exc:
                raise TokenError("invalid_grant", str(exc)) from None
        return _token(issued)

    # refresh

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> GrantRefresh | None:
        async with self.container.uow() as uow:
            grant = await oauth.refresh_grant(uow, refresh_token, client.client_id or "")
        if grant is None:
            return None
        return GrantRefresh(
            token=refresh_token,
            client_id=grant.client_id,
            scopes=grant.scopes,
            resource=grant.resource,
            subject=str(grant.user_id),
            grant_id=grant.id,
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: GrantRefresh, scopes: list[str]
    ) -> OAuthToken:
        async with self.container.uow() as uow:
            grant = await oauth.refresh_grant(uow, refresh_token.token, client.client_id or "")
            if grant is None:
                raise TokenError("invalid_grant", "refresh token does not exist")
            try:
                issued = await oauth.rotate(
                    uow,
                    self.container.keys,
                    token=refresh_token.token,
                    grant=grant,
                    scopes=scopes,
                    access_ttl=self._access_ttl,
                    refresh_ttl=self._refresh_ttl,
                )
            except oauth.GrantRefused as exc:
                raise TokenError("invalid_grant", str(exc)) from None
        return _token(issued)

    # access

    async def load_access_token(self, token: str) -> GrantAccess | None:
        try:
            caller = await oauth.resolve(
                self.container.principals,
                self.container.keys,
                token,
                self.resource_url,
                self.container.reading,
            )
        except AuthError:
            return None
        base = access_token(
            token,
            caller.user,
            self.container.settings.jwt_issuer,
            caller.client_id or CLIENT_ID,
        )
        return GrantAccess(
            **base.model_dump(exclude={"scopes", "expires_at", "resource"}),
            scopes=caller.scopes,
            expires_at=caller.expires_at,
            resource=caller.resource,
            grant_id=caller.grant_id,
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        return await self.load_access_token(token)

    async def revoke_token(self, token: GrantAccess | GrantRefresh) -> None:
        if token.grant_id is None:
            return  # a personal access token is revoked on the web page, not here
        async with self.container.uow() as uow:
            await oauth.revoke(uow, token.grant_id)

    async def exchange_identity_assertion(self, client: Any, params: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "only authorization_code and refresh_token")


def _token(issued: oauth.IssuedPair) -> OAuthToken:
    return OAuthToken(
        access_token=issued.access_token,
        token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
        expires_in=issued.expires_in,
        scope=" ".join(issued.scopes),
        refresh_token=issued.refresh_token,
    )


class HashedClientAuthenticator(ClientAuthenticator):
    """Client authentication at `/token` and `/revoke` against the stored
    digest of the client secret (RFC 6749 §2.3.1: Basic or form post)."""

    async def authenticate_request(self, request: Request) -> OAuthClientInformationFull:
        form = await request.form()
        client_id = form.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise AuthenticationError("send client_id")
        client = await self.provider.get_client(client_id)
        if client is None:
            raise AuthenticationError("unknown client_id: register the client first")
        method = client.token_endpoint_auth_method
        if method == "none":
            return client
        secret: str | None = None
        if method == "client_secret_basic":
            header = request.headers.get("Authorization", "")
            try:
                decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
                basic_id, secret = (unquote(part) for part in decoded.split(":", 1))
            except (ValueError, UnicodeDecodeError, binascii.Error):
                raise AuthenticationError("send the client credentials with HTTP Basic") from None
            if basic_id != client_id:
                raise AuthenticationError("client_id differs from the Basic credentials")
        else:
            posted = form.get("client_secret")
            secret = posted if isinstance(posted, str) else None
        stored = client.client_secret or ""
        if not secret or not stored or not hmac.compare_digest(digest(secret), stored):
            raise AuthenticationError("wrong or missing client_secret")
        if client.client_secret_expires_at and client.client_secret_expires_at < time.time():
            raise AuthenticationError("the client secret has expired: register again")
        return client


def oauth_routes(provider: TodoOAuthProvider, mcp_path: str) -> list[Route]:
    """The authorization server's endpoints and both resource metadata paths."""
    issuer = _URL.validate_python(provider.public_url)
    registration = ClientRegistrationOptions(
        enabled=True, valid_scopes=[oauth.SCOPE], default_scopes=[oauth.SCOPE]
    )
    revocation = RevocationOptions(enabled=True)
    metadata = build_metadata(issuer, None, registration, revocation)
    metadata.token_endpoint_auth_methods_supported = [
        "none",
        "client_secret_post",
        "client_secret_basic",
    ]
    metadata.authorization_response_iss_parameter_supported = True
    authenticator = HashedClientAuthenticator(provider)
    tokens = TokenHandler(provider, authenticator)
    resource = ProtectedResourceMetadata(
        resource=_URL.validate_python(provider.resource_url),
        authorization_servers=[issuer],
        scopes_supported=[oauth.SCOPE],
        resource_name="Tasks",
    )
    resource_doc = cors_middleware(
        ProtectedResourceMetadataHandler(resource).handle, ["GET", "OPTIONS"]
    )

    async def moved(request: Request) -> bool:
        """A known code of this (authenticated) client, sent with another redirect URI."""
        try:
            client = await authenticator.authenticate_request(request)
        except AuthenticationError:
            return False  # the token handler answers invalid_client
        form = await request.form()
        code, sent = form.get("code"), form.get("redirect_uri")
        if not isinstance(code, str) or not isinstance(sent, str):
            return False
        try:
            sent = str(AnyUrl(sent))
        except ValueError:
            return False  # malformed: the token handler answers invalid_request
        expected = await provider.authorized_redirect(client.client_id or "", code)
        return expected is not None and expected != sent

    async def token(request: Request) -> Response:
        # RFC 8707 §2: a token for any other resource is refused here.
        form = await request.form()
        wanted = form.get("resource")
        if isinstance(wanted, str) and not _same_resource(wanted, provider.resource_url):
            return _token_problem("invalid_target", f"resource must be {provider.resource_url}")
        if form.get("grant_type") == "authorization_code" and await moved(request):
            # RFC 6749 §5.2 names this invalid_grant (the SDK answers invalid_request).
            return _token_problem(
                "invalid_grant", "redirect_uri differs from the one the code was issued for"
            )
        answer: Response = await tokens.handle(request)
        return answer

    registrar = RegistrationHandler(provider, registration)

    async def register(request: Request) -> Response:
        # The same budget per address as sign-in and account registration.
        container = provider.container
        address = request.client.host if request.client else "unknown"
        try:
            await enforce(
                container.limiter,
                f"auth:{address}",
                container.settings.rate_limit_auth_per_minute,
                60.0,
            )
        except TooManyRequests as exc:
            return JSONResponse(
                {"error": "too_many_requests", "error_description": exc.detail},
                status_code=429,
                headers={"Retry-After": str(exc.retry_after)},
            )
        answer: Response = await registrar.handle(request)
        return answer

    paths = oauth_paths(mcp_path)
    return [
        Route(
            AS_METADATA_PATH,
            endpoint=cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"]),
            methods=["GET", "OPTIONS"],
        ),
        Route(PRM_PATH, endpoint=resource_doc, methods=["GET", "OPTIONS"]),
        Route(paths[2], endpoint=resource_doc, methods=["GET", "OPTIONS"]),
        Route(
            AUTHORIZE_PATH,
            endpoint=AuthorizationHandler(provider).handle,
            methods=["GET", "POST"],
        ),
        Route(
            TOKEN_PATH,
            endpoint=cors_middleware(token, ["POST", "OPTIONS"]),
            methods=["POST", "OPTIONS"],
        ),
        Route(
            REGISTER_PATH,
            endpoint=cors_middleware(register, ["POST", "OPTIONS"]),
            methods=["POST", "OPTIONS"],
        ),
        Route(
            REVOKE_PATH,
            endpoint=cors_middleware(
                RevocationHandler(provider, authenticator).handle, ["POST", "OPTIONS"]
            ),
            methods=["POST", "OPTIONS"],
        ),
    ]


class _TokenProblem(BaseModel):
    error: str
    error_description: str


def _token_problem(error: str, description: str) -> Response:
    return PydanticJSONResponse(
        status_code=400,
        content=_TokenProblem(error=error, error_description=description),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


# The consent, answered by the signed-in user on the web page, and their
# connected clients.

consent_router = APIRouter(prefix="/api/oauth", tags=["oauth"])


class ScopePublic(BaseModel):
    name: str
    description: str


class AuthorizationRequestPublic(BaseModel):
    id: str
    client_id: str
    client_name: str | None
    client_uri: str | None
    redirect_uri: str
    scopes: list[ScopePublic]
    resource: str


class ConsentAnswer(BaseModel):
    redirect_to: Annotated[str, Field(description="Where to send the browser next")]


class ConnectedClientPublic(BaseModel):
    id: uuid.UUID
    client_id: str
    client_name: str | None
    scopes: list[ScopePublic]
    created_at: datetime
    last_used_at: datetime | None


def _scopes(names: list[str]) -> list[ScopePublic]:
    return [ScopePublic(name=n, description=oauth.SCOPES.get(n, n)) for n in names]


def _iss(request: Request) -> str:
    container: AppContext = request.app.state.container
    return container.settings.public_url.rstrip("/")


_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown, already answered or expired request"}
}
RequestId = Annotated[str, Path(max_length=64)]


@consent_router.get(
    "/requests/{request_id}", response_model=AuthorizationRequestPublic, responses=_NOT_FOUND
)
async def authorization_request(
    request_id: RequestId, user: CurrentUser, uow: UowDep
) -> AuthorizationRequestPublic:
    """What a client asks to do, for the consent screen."""
    found = await oauth.pending(uow, request_id)
    return AuthorizationRequestPublic(
        id=found.request.id,
        client_id=found.client.client_id,
        client_name=found.client.client_name,
        client_uri=found.client.registration.get("client_uri"),
        redirect_uri=found.request.redirect_uri,
        scopes=_scopes(found.request.scopes),
        resource=found.request.resource,
    )


@consent_router.post(
    "/requests/{request_id}/approve", response_model=ConsentAnswer, responses=_NOT_FOUND
)
async def approve(
    request_id: RequestId, request: Request, user: CurrentUser, uow: UowDep
) -> ConsentAnswer:
    """Allow the client: the browser goes back to it with a one-time code."""
    code, found = await oauth.approve(uow, request_id=request_id, user_id=user.user_id)
    return ConsentAnswer(
        redirect_to=construct_redirect_uri(
            found.request.redirect_uri, code=code, state=found.request.state, iss=_iss(request)
        )
    )


@consent_router.post(
    "/requests/{request_id}/deny", response_model=ConsentAnswer, responses=_NOT_FOUND
)
async def deny(
    request_id: RequestId, request: Request, user: CurrentUser, uow: UowDep
) -> ConsentAnswer:
    """Refuse the client: it is told `access_denied`."""
    found = await oauth.deny(uow, request_id=request_id)
    return ConsentAnswer(
        redirect_to=construct_redirect_uri(
            found.request.redirect_uri,
            error="access_denied",
            error_description="the user refused the connection",
            state=found.request.state,
            iss=_iss(request),
        )
    )


@consent_router.get("/clients", response_model=list[ConnectedClientPublic])
async def connected_clients(user: CurrentUser, uow: UowDep) -> list[ConnectedClientPublic]:
    """The clients connected to your account over OAuth."""
    return [
        ConnectedClientPublic(
            id=grant.id,
            client_id=grant.client_id,
            client_name=grant.client_name,
            scopes=_scopes(grant.scopes),
            created_at=grant.created_at,
            last_used_at=grant.last_used_at,
        )
        for grant in await oauth.connected_clients(uow, user.user_id)
    ]


@consent_router.delete(
    "/clients/{grant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such connected client"}},
)
async def disconnect(grant_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> Response:
    """Revoke a connected client: its tokens stop working at once."""
    await oauth.disconnect(uow, user_id=user.user_id, grant_id=grant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


__all__ = [
    "HashedClientAuthenticator",
    "TodoOAuthProvider",
    "consent_router",
    "oauth_paths",
    "oauth_routes",
]
