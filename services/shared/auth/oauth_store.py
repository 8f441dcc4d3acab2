"""OAuth rows: registered clients, authorizations, grants, refresh tokens."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.shared.auth.principal import Principal
from services.shared.auth.store import digest
from services.shared.tables import (
    oauth_authorizations,
    oauth_clients,
    oauth_grants,
    oauth_refresh_tokens,
    users,
)


@dataclass(frozen=True, slots=True)
class ClientRow:
    client_id: str
    client_name: str | None
    secret_hash: str | None
    registration: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuthorizationRow:
    id: str
    client_id: str
    user_id: uuid.UUID | None
    redirect_uri: str
    redirect_uri_explicit: bool
    code_challenge: str
    state: str | None
    scopes: list[str]
    resource: str
    expires_at: datetime
    grant_id: uuid.UUID | None
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class GrantRow:
    id: uuid.UUID
    user_id: uuid.UUID
    client_id: str
    client_name: str | None
    scopes: list[str]
    resource: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class RefreshRow:
    grant: GrantRow
    expires_at: datetime
    used_at: datetime | None


def _authorization(row: sa.Row[Any]) -> AuthorizationRow:
    m = row._mapping
    return AuthorizationRow(
        id=m["id"],
        client_id=m["client_id"],
        user_id=m["user_id"],
        redirect_uri=m["redirect_uri"],
        redirect_uri_explicit=bool(m["redirect_uri_explicit"]),
        code_challenge=m["code_challenge"],
        state=m["state"],
        scopes=m["scopes"].split(),
        resource=m["resource"],
        expires_at=m["expires_at"],
        grant_id=m["grant_id"],
        used_at=m["used_at"],
    )


_GRANT_COLUMNS = (
    oauth_grants.c.id,
    oauth_grants.c.user_id,
    oauth_grants.c.client_id,
    oauth_clients.c.client_name,
    oauth_grants.c.scopes,
    oauth_grants.c.resource,
    oauth_grants.c.created_at,
    oauth_grants.c.last_used_at,
    oauth_grants.c.revoked_at,
)
_GRANTS = oauth_grants.join(oauth_clients, oauth_clients.c.client_id == oauth_grants.c.client_id)


def _grant(row: Any) -> GrantRow:
    m = row._mapping
    return GrantRow(
        id=m["id"],
        user_id=m["user_id"],
        client_id=m["client_id"],
        client_name=m["client_name"],
        scopes=m["scopes"].split(),
        resource=m["resource"],
        created_at=m["created_at"],
        last_used_at=m["last_used_at"],
        revoked_at=m["revoked_at"],
    )


class OAuthStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    # clients

    async def add_client(
        self,
        *,
        client_id: str,
        secret: str | None,
        client_name: str | None,
        registration: dict[str, Any],
        now: datetime,
    ) -> None:
        await self._conn.execute(
            oauth_clients.insert().values(
                client_id=client_id,
                secret_hash=digest(secret) if secret else None,
                client_name=client_name,
                registration=registration,
                created_at=now,
            )
        )

    async def client(self, client_id: str) -> ClientRow | None:
        row = (
            await self._conn.execute(
                sa.select(oauth_clients).where(oauth_clients.c.client_id == client_id)
            )
        ).first()
        if row is None:
            return None
        m = row._mapping
        return ClientRow(
            m["client_id"], m["client_name"], m["secret_hash"], dict(m["registration"])
        )

    # authorizations: a request awaiting consent, then its one-time code

    async def add_authorization(
        self,
        *,
        request_id: str,
        client_id: str,
        redirect_uri: str,
        redirect_uri_explicit: bool,
        code_challenge: str,
        state: str | None,
        scopes: list[str],
        resource: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        # Requests nobody answered and codes nobody exchanged in time go now;
        # a spent code stays, so presenting it again still revokes its grant.
        await self._conn.execute(
            oauth_authorizations.delete().where(
                oauth_authorizations.c.expires_at <= now, oauth_authorizations.c.used_at.is_(None)
            )
        )
        await self._conn.execute(
            oauth_authorizations.insert().values(
                id=request_id,
                client_id=client_id,
                redirect_uri=redirect_uri,
                redirect_uri_explicit=redirect_uri_explicit,
                code_challenge=code_challenge,
                state=state,
                scopes=" ".join(scopes),
                resource=resource,
                expires_at=expires_at,
            )
        )

    async def pending_authorization(
        self, request_id: str, now: datetime
    ) -> AuthorizationRow | None:
        """A request nobody has answered yet, still within its time."""
        row = (
            await self._conn.execute(
                sa.select(oauth_authorizations).where(
                    oauth_authorizations.c.id == request_id,
                    oauth_authorizations.c.user_id.is_(None),
                    oauth_authorizations.c.expires_at > now,
                )
            )
        ).first()
        return None if row is None else _authorization(row)

    async def approve_authorization(
        self, *, request_id: str, user_id: uuid.UUID, code: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Binds the request to the user who consented and gives it its code;
        only the first answer counts."""
        result = await self._conn.execute(
            oauth_authorizations.update()
            .where(
                oauth_authorizations.c.id == request_id,
                oauth_authorizations.c.user_id.is_(None),
                oauth_authorizations.c.expires_at > now,
            )
            .values(user_id=user_id, code_hash=digest(code), expires_at=expires_at)
        )
        return result.rowcount == 1

    async def delete_authorization(self, request_id: str) -> None:
        await self._conn.execute(
            oauth_authorizations.delete().where(oauth_authorizations.c.id == request_id)
        )

    async def authorization_by_code(self, code: str) -> AuthorizationRow | None:
        row = (
            await self._conn.execute(
                sa.select(oauth_authorizations).where(
                    oauth_authorizations.c.code_hash == digest(code)
                )
            )
        ).first()
        return None if row is None else _authorization(row)

    async def spend_code(self, *, code: str, grant_id: uuid.UUID, now: datetime) -> bool:
        """Marks the code used by `grant_id`; only the first caller wins."""
        result = await self._conn.execute(
            oauth_authorizations.update()
            .where(
                oauth_authorizations.c.code_hash == digest(code),
                oauth_authorizations.c.used_at.is_(None),
            )
            .values(used_at=now, grant_id=grant_id)
        )
        return result.rowcount == 1

    # grants and refresh tokens

    async def add_grant(
        self,
        *,
        user_id: uuid.UUID,
        client_id: str,
        scopes: list[str],
        resource: str,
        now: datetime,
    ) -> uuid.UUID:
        grant_id = uuid.uuid4()
        await self._conn.execute(
            oauth_grants.insert().values(
                id=grant_id,
                user_id=user_id,
                client_id=client_id,
                scopes=" ".join(scopes),
                resource=resource,
                created_at=now,
                last_used_at=now,
            )
        )
        return grant_id

    async def active_grant(self, grant_id: uuid.UUID) -> tuple[GrantRow, Principal] | None:
        """A grant that is not revoked, with its user."""
        row = (
            await self._conn.execute(
                sa.select(
                    *_GRANT_COLUMNS,
                    users.c.email,
                    users.c.display_name,
                    users.c.timezone,
                    users.c.is_local,
                )
                .select_from(_GRANTS.join(users, users.c.id == oauth_grants.c.user_id))
                .where(oauth_grants.c.id == grant_id, oauth_grants.c.revoked_at.is_(None))
            )
        ).first()
        if row is None:
            return None
        grant = _grant(row)
        m = row._mapping
        user = _principal_of(m, grant.user_id)
        return grant, user

    async def grants_of(self, user_id: uuid.UUID) -> list[GrantRow]:
        rows = await self._conn.execute(
            sa.select(*_GRANT_COLUMNS)
            .select_from(_GRANTS)
            .where(oauth_grants.c.user_id == user_id, oauth_grants.c.revoked_at.is_(None))
            .order_by(oauth_grants.c.created_at, oauth_grants.c.id)
        )
        return [_grant(row) for row in rows]

    async def revoke_grant(
        self, *, grant_id: uuid.UUID, now: datetime, user_id: uuid.UUID | None = None
    ) -> bool:
        """Revokes the grant and with it every token it issued."""
        where = [oauth_grants.c.id == grant_id, oauth_grants.c.revoked_at.is_(None)]
        if user_id is not None:
            where.append(oauth_grants.c.user_id == user_id)
        result = await self._conn.execute(
            oauth_grants.update().where(*where).values(revoked_at=now)
        )
        return result.rowcount == 1

    async def touch_grant(self, grant_id: uuid.UUID, now: datetime) -> None:
        await self._conn.execute(
            oauth_grants.update().where(oauth_grants.c.id == grant_id).values(last_used_at=now)
        )

    async def add_refresh_token(
        self, *, grant_id: uuid.UUID, secret: str, now: datetime, expires_at: datetime
    ) -> None:
        await self._conn.execute(
            oauth_refresh_tokens.insert().values(
                token_hash=digest(secret), grant_id=grant_id, created_at=now, expires_at=expires_at
            )
        )

    async def refresh_token(self, secret: str) -> RefreshRow | None:
        """The refresh token and its grant, whatever their state."""
        row = (
            await self._conn.execute(
                sa.select(
                    *_GRANT_COLUMNS,
                    oauth_refresh_tokens.c.expires_at.label("token_expires_at"),
                    oauth_refresh_tokens.c.used_at.label("token_used_at"),
                )
                .select_from(
                    _GRANTS.join(
                        oauth_refresh_tokens, oauth_refresh_tokens.c.grant_id == oauth_grants.c.id
                    )
                )
                .where(oauth_refresh_tokens.c.token_hash == digest(secret))
            )
        ).first()
        if row is None:
            return None
        m = row._mapping
        return RefreshRow(_grant(row), m["token_expires_at"], m["token_used_at"])

    async def spend_refresh_token(self, secret: str, now: datetime) -> bool:
        result = await self._conn.execute(
            oauth_refresh_tokens.update()
            .where(
                oauth_refresh_tokens.c.token_hash == digest(secret),
                oauth_refresh_tokens.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return result.rowcount == 1


def _principal_of(m: Any, user_id: uuid.UUID) -> Principal:
    return Principal(
        user_id=user_id,
        email=m["email"],
        display_name=m["display_name"],
        timezone=m["timezone"],
        is_local=bool(m["is_local"]),
    )


__all__ = ["AuthorizationRow", "ClientRow", "GrantRow", "OAuthStore", "RefreshRow"]
