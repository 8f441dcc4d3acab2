"""The calendar feed and its secret (service layer).

The secret is separate from access tokens: it can only read this one feed,
it is stored as its SHA-256, rotating it replaces it and revoking deletes it.
"""

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from services.errors import NotFound
from services.portability.ical_feed import build_feed
from services.portability.reading import PortabilityUoW, all_tasks
from services.portability.schemas import FeedKind, FeedTokenPublic
from services.portability.tables import calendar_feeds
from services.shared.auth.principal import Principal
from services.shared.auth.store import digest
from services.shared.db import conflict_insert
from services.tasks.domain.model import Task

TOKEN_PREFIX = "todo_cal_"  # noqa: S105 - a prefix that tells the secret apart
FEED_NAME = "todo-app"


# Part of every ETag: bump it when the rendering changes, so clients refetch.
FEED_FORMAT = "2"


@dataclass(frozen=True, slots=True)
class FeedDocument:
    """The feed's ETag, known from the rows alone (a poll that matches it
    costs one query), and the rendering, done only when it is wanted."""

    etag: str
    tasks: list[Task]
    kind: FeedKind

    async def render(self) -> bytes:
        # Rendering is CPU work (~1 ms a task): off the event loop.
        return await asyncio.to_thread(build_feed, self.tasks, kind=self.kind, name=FEED_NAME)


def _fingerprint(tasks: list[Task], kind: FeedKind) -> str:
    """Every change of a task raises its version; new occurrences are new rows."""
    digest = hashlib.sha256(f"{FEED_FORMAT}|{kind}".encode())
    for task in sorted(tasks, key=lambda t: str(t.id)):
        digest.update(f"|{task.id}:{task.version}".encode())
    return '"' + digest.hexdigest()[:32] + '"'


async def issue_feed_token(
    uow: PortabilityUoW, *, user: Principal, feed_url: str
) -> FeedTokenPublic:
    """A new feed secret; the previous one, if any, stops working."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    conn = uow.connection
    stmt = conflict_insert(conn.dialect.name, calendar_feeds).values(
        user_id=user.user_id, token_hash=digest(secret), created_at=now
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"token_hash": stmt.excluded.token_hash, "created_at": now},
        )
    )
    await uow.commit()
    url = _with_token(feed_url, secret)
    return FeedTokenPublic(token=secret, url=url, event_url=url + "&kind=event", created_at=now)


def _with_token(feed_url: str, secret: str) -> str:
    return f"{feed_url}?token={secret}"


async def revoke_feed_token(uow: PortabilityUoW, *, user: Principal) -> None:
    deleted = await uow.connection.execute(
        calendar_feeds.delete().where(calendar_feeds.c.user_id == user.user_id)
    )
    if deleted.rowcount == 0:
        raise NotFound("there is no calendar feed to revoke")
    await uow.commit()


async def calendar_feed(uow: PortabilityUoW, *, token: str, kind: FeedKind) -> FeedDocument:
    """The feed of the user this secret belongs to; an unknown secret is a 404
    that says nothing about whom it might have belonged to."""
    user_id = (
        await uow.connection.execute(
            sa.select(calendar_feeds.c.user_id).where(calendar_feeds.c.token_hash == digest(token))
        )
    ).scalar_one_or_none()
    user = None if user_id is None else await uow.accounts.user_by_id(user_id)
    if user is None:
        raise NotFound("no calendar feed for this token: it was revoked, rotated or never issued")
    tasks = await all_tasks(uow.tasks, user.user_id, dated_only=True)
    return FeedDocument(_fingerprint(tasks, kind), tasks, kind)


__all__ = ["FeedDocument", "calendar_feed", "issue_feed_token", "revoke_feed_token"]
