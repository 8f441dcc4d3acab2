"""Moving the relay's queue out of the outbox (migration 0015), both ways.

Events not sent yet when the migration runs must still go out, with their
failed attempts; a row inserted the old way (as a replica not yet upgraded
does during a rolling upgrade) is queued too; going back restores what was
sent and what was not.
"""

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from services.migrations.runner import downgrade, upgrade
from tests.conftest import run_blocking

BEFORE, AFTER = "0014", "0015"
AT = datetime(2030, 1, 1, 9, tzinfo=UTC)
INSERT = (
    "INSERT INTO outbox (event_id, topic, event_type, partition_key, payload, created_at{extra})"
    " VALUES (:event_id, 'task-events', 'task.created', :user, '{{}}', :at{values})"
)


async def _rows(url: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(query), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        await engine.dispose()


def rows(url: str, query: str, **params: Any) -> list[tuple[Any, ...]]:
    return run_blocking(lambda: _rows(url, query, **params))


def insert_old_way(
    url: str, event_id: str, *, sent: bool, attempts: int = 0, error: str = ""
) -> None:
    rows(
        url,
        INSERT.format(extra=", sent_at, attempts, last_error", values=", :sent, :attempts, :error"),
        event_id=event_id,
        user="u1",
        at=AT,
        sent=AT if sent else None,
        attempts=attempts,
        error=error or None,
    )


@pytest.fixture
def at_0014(empty_database_url: str) -> str:
    upgrade(empty_database_url, BEFORE)
    return empty_database_url


def test_unsent_events_are_queued_with_their_attempts_and_come_back_on_downgrade(
    at_0014: str,
) -> None:
    url = at_0014
    insert_old_way(url, "sent", sent=True)
    insert_old_way(url, "failed", sent=False, attempts=2, error="broker unreachable")
    insert_old_way(url, "waiting", sent=False)

    upgrade(url, AFTER)
    queued = "SELECT o.event_id, p.attempts, p.last_error FROM outbox_pending p"
    queued += " JOIN outbox o ON o.id = p.id ORDER BY p.id"
    assert rows(url, queued) == [("failed", 2, "broker unreachable"), ("waiting", 0, None)]
    # An insert that knows nothing of the queue (an older replica) is queued all the same.
    rows(
        url,
        INSERT.format(extra="", values=""),
        event_id="late",
        user="u2",
        at=AT,
    )
    assert [r[0] for r in rows(url, queued)] == ["failed", "waiting", "late"]
    assert rows(url, "SELECT partition_key FROM outbox_pending ORDER BY id")[-1] == ("u2",)

    downgrade(url, BEFORE)
    back = rows(
        url,
        "SELECT event_id, sent_at IS NOT NULL, attempts, last_error FROM outbox ORDER BY id",
    )
    assert back == [
        ("sent", True, 0, None),
        ("failed", False, 2, "broker unreachable"),
        ("waiting", False, 0, None),
        ("late", False, 0, None),
    ]
    upgrade(url)  # the module's database ends at the newest migration again
    assert [r[0] for r in rows(url, queued)] == ["failed", "waiting", "late"]
