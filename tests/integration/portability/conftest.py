"""Fixtures for the portability routes: the app with the portability router
(whether or not the composition root includes it yet), a started system for
the tests that need the recurring-task service, and iCalendar helpers."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import recurring_ical_events
from icalendar import Calendar

from services.app import build_app
from services.bootstrap import Container
from services.composition import process_of, start_process
from services.portability.api import router
from tests.conftest import User


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(container)
    if router not in process_of(container).routers:
        app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def started(container: Container) -> Container:
    """Consumers and the relay running: completing a recurring task gets its
    next occurrence from the recurring-task service. The container fixture
    stops them."""
    await start_process(container)
    return container


async def feed_url(user: User) -> str:
    response = await user.post("/api/calendar/token")
    assert response.status_code == 201, response.text
    url: str = response.json()["url"]
    return url


async def fetch_feed(client: httpx.AsyncClient, url: str, **params: str) -> Calendar:
    response = await client.get(httpx.URL(url).copy_merge_params(params))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    assert isinstance(calendar, Calendar)
    return calendar


def expand(
    calendar: Calendar, kind: str, after: datetime, count: int, uid: str | None = None
) -> list[datetime]:
    """Occurrence starts at or after `after` (of one UID, if given), as an
    independent library sees them."""
    found: list[datetime] = []
    query = recurring_ical_events.of(calendar, components=[kind])
    # A window, not `after()`: a finished series would keep that scanning forever.
    for component in query.between(after, after + timedelta(days=3 * 366)):
        start = component["DTSTART"].dt
        if start >= after and uid in (None, component["UID"]):
            found.append(start)
    return sorted(found)[:count]


def instants(values: list[Any]) -> list[datetime]:
    return [
        (datetime.fromisoformat(v) if isinstance(v, str) else v).astimezone(UTC) for v in values
    ]


async def outbox_events(container: Container, user_id: str) -> list[dict[str, Any]]:
    """The events written for a user, oldest first (payloads decoded)."""
    import json

    import sqlalchemy as sa

    from events import outbox_table

    async with container.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(outbox_table.c.payload)
                .where(outbox_table.c.partition_key == user_id)
                .order_by(outbox_table.c.id)
            )
        ).all()
    return [json.loads(r[0]) for r in rows]


async def import_file(
    user: User,
    content: bytes | str,
    *,
    media_type: str = "application/octet-stream",
    filename: str | None = None,
    **params: str,
) -> httpx.Response:
    """POST /api/import: as a multipart upload when a file name is given,
    else as the raw body."""
    data = content.encode() if isinstance(content, str) else content
    if filename is not None:
        files = {"file": (filename, data, media_type)}
        return await user.post("/api/import", files=files, params=params)
    return await user.post(
        "/api/import", content=data, headers={"Content-Type": media_type}, params=params
    )
