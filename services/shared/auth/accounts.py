"""The accounts service layer: register, log in, tokens, the local user."""

import secrets
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, get_args

from events import EventType, new_event
from services.errors import AuthError, Conflict, InvalidInput, NotFound
from services.shared.auth.cache import PrincipalCache, credential_key
from services.shared.auth.keys import KeyRing
from services.shared.auth.passwords import hash_password, needs_rehash, verify_password
from services.shared.auth.principal import Principal
from services.shared.auth.store import AccountStore
from services.shared.auth.throttle import LoginThrottle
from services.shared.timeutil import TimeFormat, zone

PAT_PREFIX = "todo_pat_"
LINK_PREFIX = "todo_link_"
MIN_PASSWORD = 8


class AccountsUoW(Protocol):
    accounts: AccountStore

    async def commit(self) -> None: ...

    def principals_changed(
        self, *, user_id: uuid.UUID | None = None, grant_id: uuid.UUID | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret


@dataclass(frozen=True, slots=True)
class PersonalToken:
    id: uuid.UUID
    name: str
    token: str
    created_at: datetime
    expires_at: datetime | None = None


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def register(
    uow: AccountsUoW, *, email: str, password: str, display_name: str | None, timezone: str
) -> Principal:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD} characters")
    zone(timezone)
    email = normalise_email(email)
    if await uow.accounts.user_by_email(email) is not None:
        raise Conflict("an account with this email already exists: log in instead")
    user = await uow.accounts.add_user(
        email=email,
        password_hash=await hash_password(password),
        display_name=(display_name or "").strip() or None,
        timezone=timezone,
        now=datetime.now(UTC),
    )
    await uow.commit()
    return user


async def login(
    uow: AccountsUoW,
    keys: KeyRing,
    *,
    email: str,
    password: str,
    ttl: timedelta,
    throttle: LoginThrottle | None = None,
    address: str = "unknown",
) -> IssuedToken:
    """An access token for the right email and password.

    An unknown email costs the same argon2 verification as a wrong password
    and gets the same answer. With a throttle, a locked account or address is
    refused (LoginLocked, 429) before the password is looked at."""
    email = normalise_email(email)
    if throttle is not None:
        await throttle.check(email, address)
    found = await uow.accounts.user_by_email(email)
    ok = await verify_password(found[1] if found else None, password)
    if found is None or not ok:
        if throttle is not None:
            await throttle.failed(email, address)
        raise AuthError("wrong email or password")
    if throttle is not None:
        await throttle.succeeded(email, address)
    user, stored = found
    if stored is not None and needs_rehash(stored):
        # The cost parameters were raised since this hash was made.
        await uow.accounts.set_password_hash(user.user_id, await hash_password(password))
        await uow.commit()
    return IssuedToken(keys.issue(user.user_id, ttl), int(ttl.total_seconds()))


async def authenticate(uow: AccountsUoW, keys: KeyRing, bearer: str) -> Principal:
    """The user behind an `Authorization: Bearer` credential (JWT or PAT)."""
    return (await authenticate_until(uow, keys, bearer))[0]


async def authenticate_until(
    uow: AccountsUoW, keys: KeyRing, bearer: str
) -> tuple[Principal, float | None]:
    """`authenticate`, and when the credential expires (Unix time; None: not
    until revoked)."""
    if bearer.startswith(PAT_PREFIX):
        found = await uow.accounts.access_token_owner(bearer, datetime.now(UTC))
        if found is None:
            raise AuthError("the personal access token is unknown or revoked, or has expired")
        owner, expires_at = found
        return owner, expires_at.timestamp() if expires_at is not None else None
    user = await uow.accounts.user_by_id(keys.verify(bearer))
    if user is None:
        raise AuthError("the account of this token no longer exists")
    return user, keys.expiry(bearer)


async def resolve(
    cache: PrincipalCache,
    keys: KeyRing,
    bearer: str,
    open_uow: Callable[[], AbstractAsyncContextManager[AccountsUoW]],
) -> Principal:
    """`authenticate`, answered from `cache` while the entry lasts: no
    database connection at all on a hit. A refused token is not kept."""

    async def load() -> tuple[Principal, float | None]:
        async with open_uow() as uow:
            return await authenticate_until(uow, keys, bearer)

    def identify(found: tuple[Principal, float | None]) -> tuple[uuid.UUID, None, float | None]:
        return found[0].user_id, None, found[1]

    if not cache.enabled:
        return (await load())[0]
    return (await cache.resolve(credential_key(bearer, "api"), load, identify))[0]


async def create_personal_token(
    uow: AccountsUoW, *, user_id: uuid.UUID, name: str, expires_in: timedelta | None = None
) -> PersonalToken:
    """A new personal access token; without `expires_in` it works until revoked."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("name", "must be 1 to 100 characters")
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidInput("expires_in_days", "must be at least 1")
    secret = PAT_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires_at = now + expires_in if expires_in is not None else None
    token_id = await uow.accounts.add_access_token(
        user_id=user_id, name=name, secret=secret, now=now, expires_at=expires_at
    )
    await uow.commit()
    return PersonalToken(token_id, name, secret, now, expires_at)


async def revoke_personal_token(
    uow: AccountsUoW, *, user_id: uuid.UUID, token_id: uuid.UUID
) -> None:
    if not await uow.accounts.revoke_access_token(
        user_id=user_id, token_id=token_id, now=datetime.now(UTC)
    ):
        raise NotFound("no such token")
    uow.principals_changed(user_id=user_id)
    await uow.commit()


async def ensure_local_user(uow: AccountsUoW, *, email: str, timezone: str) -> Principal:
    user = await uow.accounts.local_user()
    if user is None:
        user = await uow.accounts.add_user(
            email=normalise_email(email),
            password_hash=None,
            display_name=None,  # until the user gives one in the settings
            timezone=timezone,
            now=datetime.now(UTC),
            is_local=True,
        )
        await uow.commit()
    return user


TIME_FORMATS: tuple[str, ...] = get_args(TimeFormat)
_UNSET: Any = object()


async def update_profile(
    uow: AccountsUoW,
    *,
    user_id: uuid.UUID,
    display_name: str | None = _UNSET,
    timezone: str = _UNSET,
    time_format: str = _UNSET,
) -> Principal:
    """Changes what is given: the display name (None removes it), the IANA
    zone later times are read in, and how clock times are written."""
    values: dict[str, str | None] = {}
    if display_name is not _UNSET:
        if display_name is not None:
            display_name = display_name.strip()
            if not display_name:
                raise InvalidInput("display_name", "must not be empty: send null to remove it")
            if len(display_name) > 100:
                raise InvalidInput("display_name", "must be at most 100 characters")
        values["display_name"] = display_name
    if timezone is not _UNSET:
        zone(timezone)
        values["timezone"] = timezone
    if time_format is not _UNSET:
        if time_format not in TIME_FORMATS:
            raise InvalidInput("time_format", f"{time_format!r} is not one of auto, 12h, 24h")
        values["time_format"] = time_format
    user = await uow.accounts.update_user(user_id, **values)
    if user is None:
        raise NotFound("no such account")
    uow.principals_changed(user_id=user_id)
    await uow.commit()
    return user


async def create_login_link(uow: AccountsUoW, *, user_id: uuid.UUID, ttl: timedelta) -> str:
    secret = LINK_PREFIX + secrets.token_urlsafe(32)
    await uow.accounts.add_login_link(
        user_id=user_id, secret=secret, expires_at=datetime.now(UTC) + ttl
    )
    await uow.commit()
    return secret


async def redeem_login_link(
    uow: AccountsUoW, keys: KeyRing, *, secret: str, ttl: timedelta
) -> IssuedToken:
    user = await uow.accounts.redeem_login_link(secret, datetime.now(UTC))
    if user is None:
        raise AuthError("this login link is unknown, used or expired: start `make run` again")
    await uow.commit()
    return IssuedToken(keys.issue(user.user_id, ttl), int(ttl.total_seconds()))


async def delete_account(uow: AccountsUoW, *, user: Principal, emit: Any) -> None:
    """Delete the account and everything task-api keeps of it, in one
    transaction with the `user.deleted` event the other services act on."""
    if not await uow.accounts.delete_user(user.user_id):
        raise NotFound("no such account")
    emit(
        new_event(
            EventType.USER_DELETED,
            source="/task-api",
            user_id=user.user_id,
            subject=user.user_id,
            data={"user_id": str(user.user_id)},
        )
    )
    uow.principals_changed(user_id=user.user_id)
    await uow.commit()
