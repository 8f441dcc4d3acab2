"""/api/auth, the JWKS, and the one-time login link."""

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictStr

from services.shared.api_deps import AuthAttempt, ContainerDep, CurrentUser, UowDep
from services.shared.auth import accounts
from services.shared.auth.principal import Principal
from services.shared.timeutil import TimeFormat

router = APIRouter(tags=["auth"])


class RegisterRequest(BaseModel):
    email: EmailStr
    password: Annotated[str, Field(min_length=8, max_length=256)]
    display_name: Annotated[str | None, Field(max_length=100)] = None
    timezone: Annotated[
        str | None, Field(max_length=64, description="IANA zone; default: the server's")
    ] = None


class LoginRequest(BaseModel):
    email: Annotated[str, Field(max_length=320)]
    password: Annotated[str, Field(max_length=256)]


class LinkRequest(BaseModel):
    token: Annotated[str, Field(max_length=200)]


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class UserPublic(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str | None
    timezone: str
    time_format: TimeFormat = Field(
        description='How clock times are written: "auto" (the reader\'s locale), "12h" or "24h"'
    )

    @classmethod
    def of(cls, user: Principal) -> "UserPublic":
        return cls(
            id=user.user_id,
            email=user.email,
            display_name=user.display_name,
            timezone=user.timezone,
            time_format=user.time_format,
        )


class UserUpdate(BaseModel):
    """The fields to change; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[
        StrictStr | None, Field(max_length=100, description="null removes it; not blank")
    ] = None
    timezone: Annotated[
        StrictStr, Field(max_length=64, description="IANA zone, e.g. Europe/Berlin")
    ] = None  # type: ignore[assignment]  # left out: unchanged (null is refused)
    time_format: Annotated[TimeFormat, Field(description="auto, 12h or 24h")] = None  # type: ignore[assignment]


class PersonalTokenCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    expires_in_days: Annotated[
        int | None, Field(ge=1, le=3650, description="Days until it stops working; none: never")
    ] = None


class PersonalTokenPublic(BaseModel):
    id: uuid.UUID
    name: str
    token: str
    created_at: datetime
    expires_at: datetime | None = None


_THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many attempts from this address (see Retry-After)"}
}
_REFUSED: dict[int | str, dict[str, Any]] = {
    **_THROTTLED,
    401: {"description": "Wrong email or password, or an unusable login link"},
}


@router.post(
    "/api/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    dependencies=[AuthAttempt],
    responses={**_THROTTLED, 409: {"description": "The email has an account already"}},
)
async def register(body: RegisterRequest, uow: UowDep, container: ContainerDep) -> UserPublic:
    user = await accounts.register(
        uow,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        timezone=body.timezone or container.default_timezone,
    )
    return UserPublic.of(user)


@router.post(
    "/api/auth/login",
    response_model=TokenResponse,
    dependencies=[AuthAttempt],
    responses={
        **_REFUSED,
        429: {"description": "Too many attempts, or too many failed logins (see Retry-After)"},
    },
)
async def login(
    body: LoginRequest, request: Request, uow: UowDep, container: ContainerDep
) -> TokenResponse:
    issued = await accounts.login(
        uow,
        container.keys,
        email=body.email,
        password=body.password,
        ttl=container.access_ttl,
        throttle=container.throttle,
        address=request.client.host if request.client else "unknown",
    )
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post(
    "/api/auth/link", response_model=TokenResponse, dependencies=[AuthAttempt], responses=_REFUSED
)
async def redeem_link(body: LinkRequest, uow: UowDep, container: ContainerDep) -> TokenResponse:
    """Exchange the one-time login link that `todo serve` prints for an access token."""
    issued = await accounts.redeem_login_link(
        uow, container.keys, secret=body.token, ttl=container.access_ttl
    )
    return TokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)


class SignInOptions(BaseModel):
    login_link: bool = Field(
        description="The server has a local user: `todo login-link`, run where it runs, "
        "prints a one-time link that signs in as that user"
    )


@router.get("/api/auth/options", response_model=SignInOptions)
async def sign_in_options(container: ContainerDep) -> SignInOptions:
    """How one can sign in here, for the signed-out page; public, and it names no account."""
    return SignInOptions(login_link=container.settings.local_user_enabled)


@router.get("/api/auth/me", response_model=UserPublic)
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.of(user)


@router.patch("/api/auth/me", response_model=UserPublic)
async def update_me(body: UserUpdate, user: CurrentUser, uow: UowDep) -> UserPublic:
    """Change your display name, time zone (read for times sent later without
    an offset, and for the assistant's "tomorrow at 9") or time format."""
    changed = await accounts.update_profile(
        uow, user_id=user.user_id, **body.model_dump(include=body.model_fields_set)
    )
    return UserPublic.of(changed)


@router.post(
    "/api/auth/tokens", status_code=status.HTTP_201_CREATED, response_model=PersonalTokenPublic
)
async def create_token(
    body: PersonalTokenCreate, user: CurrentUser, uow: UowDep
) -> PersonalTokenPublic:
    """A personal access token for MCP clients and scripts; shown only once."""
    token = await accounts.create_personal_token(
        uow,
        user_id=user.user_id,
        name=body.name,
        expires_in=timedelta(days=body.expires_in_days) if body.expires_in_days else None,
    )
    return PersonalTokenPublic(
        id=token.id,
        name=token.name,
        token=token.token,
        created_at=token.created_at,
        expires_at=token.expires_at,
    )


@router.delete("/api/auth/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(user: CurrentUser, uow: UowDep) -> Response:
    """Delete your account: tasks, tokens, notifications, conversations and
    feed secrets; the audit trail keeps only redacted entries (see README)."""
    await accounts.delete_account(uow, user=user, emit=uow.emit)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/api/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> Response:
    await accounts.revoke_personal_token(uow, user_id=user.user_id, token_id=token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/.well-known/jwks.json")
async def jwks(container: ContainerDep) -> dict[str, object]:
    return container.keys.jwks()
