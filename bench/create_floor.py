"""The floor of benchmark 1: a task and its outbox event written with raw
asyncpg, as the service writes them, and the request bodies both sides use."""

import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from bench.common import Database
from bench.words import PRIORITIES, TextMaker, pick_priority, pick_tags

TIMEZONE = "Europe/Berlin"


class Bodies:
    """Realistic create requests: text, priority, tags, a due time next year."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._text = TextMaker(self._rng)

    def next(self) -> dict[str, Any]:
        rng = self._rng
        day = date.today() + timedelta(days=rng.randrange(1, 365))
        return {
            "title": self._text.title(),
            "description": self._text.description(),
            "priority": pick_priority(rng),
            "tags": pick_tags(rng),
            "due_at": f"{day.isoformat()}T{rng.choice(('09:00', '12:30', '17:00'))}:00",
        }


class RawSide:
    """The floor: what the service writes per task, as two plain INSERTs."""

    OUTBOX_SQL = (
        "INSERT INTO outbox (event_id, topic, event_type, partition_key, payload, created_at)"
        " VALUES ($1, 'task-events', 'task.created', $2, $3, $4)"
    )

    def __init__(self, pool: asyncpg.Pool, user_id: uuid.UUID, columns: list[str]) -> None:
        self._pool = pool
        self._user_id = user_id
        self._bodies = Bodies(2)
        self._tz = ZoneInfo(TIMEZONE)
        self._columns = [c for c in columns if c in self._row(uuid.uuid4(), {}, _EPOCH)]
        self._task_sql = (
            f"INSERT INTO tasks ({', '.join(self._columns)}) VALUES"
            f" ({', '.join(f'${n}' for n in range(1, len(self._columns) + 1))})"
        )

    def _row(self, task_id: uuid.UUID, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The task row by column name, filled as the service fills it for a new task."""
        due = body.get("due_at")
        return {
            "id": task_id,
            "user_id": self._user_id,
            "title": body.get("title", ""),
            "description": body.get("description"),
            "status": "active",
            "completed_at": None,
            "priority": body.get("priority", "none"),
            "priority_rank": PRIORITIES.index(body.get("priority", "none")),
            "tags": body.get("tags", []),
            "due_at": None if due is None else datetime.fromisoformat(due).replace(tzinfo=self._tz),
            "remind_at": None,
            "timezone": TIMEZONE,
            "recurrence_rule": None,
            "repeat_from": "due",
            "series_id": task_id,
            "occurrence_at": None,
            "series_start_at": None,
            "sequence": 1,
            "exdates": "[]",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }

    def _event(self, row: dict[str, Any]) -> str:
        """The task.created CloudEvent as the outbox stores it (JSON text)."""
        local = self._tz
        task = {
            "id": str(row["id"]),
            "title": row["title"],
            "description": row["description"],
            "status": "active",
            "completed_at": None,
            "priority": row["priority"],
            "tags": row["tags"],
            "due_at": row["due_at"] and row["due_at"].isoformat(),
            "remind_at": None,
            "timezone": TIMEZONE,
            "recurrence_rule": None,
            "repeat_from": "due",
            "is_recurring": False,
            "series_id": str(row["id"]),
            "created_at": row["created_at"].astimezone(local).isoformat(),
            "updated_at": row["updated_at"].astimezone(local).isoformat(),
            "version": 1,
        }
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/task-api",
            "type": "task.created",
            "time": row["created_at"].isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "subject": task["id"],
            "userid": str(self._user_id),
            "data": {"task": task},
        }
        return json.dumps(event, separators=(",", ":"))

    async def one(self) -> bool:
        now = datetime.now(UTC)
        row = self._row(uuid.uuid4(), self._bodies.next(), now)
        payload = self._event(row)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(self._task_sql, *(row[c] for c in self._columns))
            await conn.execute(self.OUTBOX_SQL, str(row["id"]), str(self._user_id), payload, now)
        return True


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def raw_user(db: Database) -> uuid.UUID:
    user_id = uuid.uuid4()
    conn = await asyncpg.connect(db.dsn)
    try:
        await conn.execute(
            "INSERT INTO users (id, email, timezone, is_local, created_at)"
            " VALUES ($1, $2, $3, false, now())",
            user_id,
            f"raw-{user_id.hex[:8]}@bench.example.com",
            TIMEZONE,
        )
    finally:
        await conn.close()
    return user_id
