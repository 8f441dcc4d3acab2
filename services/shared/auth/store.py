"""Account rows: users, personal access tokens, login links."""

import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.errors import Conflict
from services.shared.auth.principal import Principal
from services.shared.tables import access_tokens, login_links, users
from services.shared.timeutil import TimeFormat


def digest(secret: str) -> str:
    """Secrets are stored as their SHA-256: a leaked table reveals no token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _principal(row: sa.Row[Any]) -> Principal:
    m = row._mapping
    return Principal(
        user_id=m["id"],
        email=m["email"],
        display_name=m["display_name"],
        timezone=m["timezone"],
        is_local=bool(m["is_local"]),
        time_format=cast(TimeFormat, m["time_format"]),
    )


class AccountStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add_user(
        self,
        *,
        email: str,
        password_hash: str | None,
        display_name: str | None,
        timezone: str,
        now: datetime,
        is_local: bool = False,
    ) -> Principal:
        user_id = uuid.uuid4()
        try:
            await self._conn.execute(
                users.insert().values(
                    id=user_id,
                    email=email,
                    password_hash=password_hash,
                    display_name=display_name,
                    timezone=timezone,
                    is_local=is_local,
                    created_at=now,
                )
            )
        except sa.exc.IntegrityError:
            raise Conflict("an account with this email already exists: log in instead") from None
        return Principal(user_id, email, display_name, timezone, is_local)

    async def user_by_email(self, email: str) -> tuple[Principal, str | None] | None:
        row = (await self._conn.execute(sa.select(users).where(users.c.email == email))).first()
        return None if row is None else (_principal(row), row._mapping["password_hash"])

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        await self._conn.execute(
            users.update().where(users.c.id == user_id).values(password_hash=password_hash)
        )

    async def user_by_id(self, user_id: uuid.UUID) -> Principal | None:
        row = (await self._conn.execute(sa.select(users).where(users.c.id == user_id))).first()
        return None if row is None else _principal(row)

    async def update_user(self, user_id: uuid.UUID, **values: str | None) -> Principal | None:
        """Changes the given columns of a user (display_name, timezone, time_format)."""
        if values:
            await self._conn.execute(users.update().where(users.c.id == user_id).values(**values))
        return await self.user_by_id(user_id)

    async def local_user(self) -> Principal | None:
        row = (
            await self._conn.execute(sa.select(users).where(users.c.is_local.is_(True)).limit(1))
        ).first()
        return None if row is None else _principal(row)

    async def delete_user(self, user_id: uuid.UUID) -> bool:
        """Removes the user; tasks, tokens, links and feed secrets go with it
        (ON DELETE CASCADE)."""
        result = await self._conn.execute(users.delete().where(users.c.id == user_id))
        return result.rowcount == 1

    async def add_access_token(
        self,
        *,
        user_id: uuid.UUID,
        name: str,
        secret: str,
        now: datetime,
        expires_at: datetime | None = None,
    ) -> uuid.UUID:
        token_id = uuid.uuid4()
        await self._conn.execute(
            access_tokens.insert().values(
                id=token_id,
                user_id=user_id,
                name=name,
                token_hash=digest(secret),
                created_at=now,
                expires_at=expires_at,
            )
        )
        return token_id

    async def user_by_access_token(self, secret: str, now: datetime) -> Principal | None:
        """The owner of a token that is neither revoked nor expired."""
        found = await self.access_token_owner(secret, now)
        return found[0] if found is not None else None

    async def access_token_owner(
        self, secret: str, now: datetime
    ) -> tuple[Principal, datetime | None] | None:
        """The owner of a token that is neither revoked nor expired, and
        when the token expires (None: not until revoked)."""
        wanted = digest(secret)
        row = (
            await self._conn.execute(
                sa.select(users, access_tokens.c.token_hash, access_tokens.c.expires_at)
                .join(access_tokens, access_tokens.c.user_id == users.c.id)
                .where(
                    access_tokens.c.token_hash == wanted,
                    access_tokens.c.revoked_at.is_(None),
                    sa.or_(access_tokens.c.expires_at.is_(None), access_tokens.c.expires_at > now),
                )
            )
        ).first()
        # The index finds the row by digest; the final check is constant-time.
        if row is None or not hmac.compare_digest(row._mapping["token_hash"], wanted):
            return None
        expires_at = row._mapping["expires_at"]
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)  # SQLite keeps no zone
        return _principal(row), expires_at

    async def revoke_access_token(
        self, *, user_id: uuid.UUID, token_id: uuid.UUID, now: datetime
    ) -> bool:
        result = await self._conn.execute(
            access_tokens.update()
            .where(
                access_tokens.c.id == token_id,
                access_tokens.c.user_id == user_id,
                access_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return result.rowcount == 1

    async def add_login_link(
        self, *, user_id: uuid.UUID, secret: str, expires_at: datetime
    ) -> None:
        await self._conn.execute(
            login_links.insert().values(
                token_hash=digest(secret),
                user_id=user_id,
                expires_at=expires_at,
            )
        )

    async def redeem_login_link(self, secret: str, now: datetime) -> Principal | None:
        """Marks the link used; only the first caller of a valid link gets a user."""
        claimed = (
            await self._conn.execute(
                login_links.update()
                .where(
                    login_links.c.token_hash == digest(secret),
                    login_links.c.used_at.is_(None),
                    login_links.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(login_links.c.user_id)
            )
        ).first()
        return None if claimed is None else await self.user_by_id(claimed[0])
