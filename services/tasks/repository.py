"""Task storage: rows of the `tasks` table mapped to the domain's Task.

Every query takes the owner's id; there is no way to read a task without it.
"""

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from events import outbox_table
from services.errors import VersionMismatch
from services.shared.db import conflict_insert, execute_counted
from services.shared.tables import deleted_tasks, tasks
from services.shared.timeutil import day_bounds, localize
from services.tasks.domain.model import Priority, RepeatFrom, Status, Task
from services.tasks.schemas import TaskQuery

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_WORDS = 16


def _now() -> datetime:
    return datetime.now(UTC)


class TaskIdTaken(Exception):
    """A new task's id is already a task's: nothing of the statement was written."""


class TaskIdDeleted(Exception):
    """A new task's id is a task's deleted within the window the caller gave:
    nothing of the statement was written."""


def _taken(exc: sa.exc.IntegrityError) -> bool:
    # A new task starts its own series (series_id = id), so its id is in use when
    # either key refuses it. PostgreSQL names the constraint, SQLite the columns.
    text = str(exc.orig)
    return any(
        name in text
        for name in ("tasks_pkey", "uq_tasks_series_occurrence", "tasks.id", "tasks.series_id")
    )


def overdue(now: datetime) -> sa.ColumnElement[bool]:
    """`services.tasks.domain.overdue.is_overdue` as a query criterion: active
    and due before `now`."""
    return sa.and_(
        tasks.c.status == Status.ACTIVE.value, tasks.c.due_at.is_not(None), tasks.c.due_at < now
    )


def search_words(q: str) -> list[str]:
    """The words of a search box entry; punctuation never reaches SQL."""
    return [w for w in _WORD.findall(q.lower()) if w.strip("_")][:MAX_QUERY_WORDS]


def _to_row(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "user_id": task.user_id,
        "title": task.title,
        "description": task.description,
        "status": task.status.value,
        "completed_at": task.completed_at,
        "priority": task.priority.value,
        "priority_rank": task.priority.rank,
        "tags": list(task.tags),
        "due_at": task.due_at,
        "remind_at": task.remind_at,
        "timezone": task.timezone,
        "recurrence_rule": task.recurrence_rule,
        "repeat_from": task.repeat_from.value,
        "series_id": task.series_id,
        "occurrence_at": task.occurrence_at,
        "series_start_at": task.series_start_at,
        "sequence": task.sequence,
        "exdates": [d.isoformat() for d in task.exdates],
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "version": task.version,
    }


def _from_row(row: sa.Row[Any]) -> Task:
    m = row._mapping
    return Task(
        id=m["id"],
        user_id=m["user_id"],
        title=m["title"],
        description=m["description"],
        status=Status(m["status"]),
        completed_at=m["completed_at"],
        priority=Priority(m["priority"]),
        tags=list(m["tags"] or []),
        due_at=m["due_at"],
        remind_at=m["remind_at"],
        timezone=m["timezone"],
        recurrence_rule=m["recurrence_rule"],
        repeat_from=RepeatFrom(m["repeat_from"]),
        series_id=m["series_id"],
        occurrence_at=m["occurrence_at"],
        series_start_at=m["series_start_at"],
        sequence=m["sequence"],
        exdates=[datetime.fromisoformat(d) for d in m["exdates"] or []],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        version=m["version"],
    )


_OUTBOX_COLUMNS = ("event_id", "topic", "event_type", "partition_key", "payload", "created_at")
_SHAPES_KEPT = 64
_shapes: dict[tuple[int, int, bool], sa.TextClause] = {}


def _values(prefix: str, count: int, names: Sequence[str]) -> str:
    return ", ".join(
        "(" + ", ".join(f":{prefix}{n}_{name}" for name in names) + ")" for n in range(count)
    )


def _tasks_with_outbox(
    task_columns: list[str], n_tasks: int, n_events: int, *, unless_deleted: bool = False
) -> sa.TextClause:
    """`n_tasks` task rows (`task_columns`, as `_to_row` makes them) and
    `n_events` outbox rows in one INSERT (the tasks' in a data-modifying CTE),
    with typed named parameters. SQLAlchemy never caches the compiled form of
    a CTE holding an INSERT, so the statement is text, built once per shape.

    `unless_deleted` (one task): nothing is written when `deleted_tasks` has the
    task's id deleted at `:deleted_since` or later; the outbox rows are inserted
    once per task row the CTE inserted, so the statement's row count is 0 then."""
    key = (n_tasks, n_events, unless_deleted)
    found = _shapes.get(key)
    if found is not None:
        return found
    # Only the tables' own column names and numbered parameter names go into
    # the text; every value is a bound parameter.
    if unless_deleted:  # one task: `add_with_outbox` holds that rule
        sql = (
            f"WITH new_tasks AS (INSERT INTO {tasks.name} ({', '.join(task_columns)})"  # noqa: S608
            f" SELECT {', '.join(f':t0_{name}' for name in task_columns)}"
            f" WHERE NOT EXISTS (SELECT 1 FROM {deleted_tasks.name} WHERE id = :t0_id"
            " AND user_id = :t0_user_id AND deleted_at >= :deleted_since) RETURNING id)"
            f" INSERT INTO {outbox_table.name} ({', '.join(_OUTBOX_COLUMNS)})"
            f" SELECT e.* FROM (VALUES {_values('e', n_events, _OUTBOX_COLUMNS)})"
            f" AS e ({', '.join(_OUTBOX_COLUMNS)}), new_tasks"
        )
    else:
        sql = (
            f"WITH new_tasks AS (INSERT INTO {tasks.name} ({', '.join(task_columns)})"  # noqa: S608
            f" VALUES {_values('t', n_tasks, task_columns)})"
            f" INSERT INTO {outbox_table.name} ({', '.join(_OUTBOX_COLUMNS)})"
            f" VALUES {_values('e', n_events, _OUTBOX_COLUMNS)}"
        )
    params = [
        sa.bindparam(f"{prefix}{n}_{name}", type_=table.c[name].type)
        for table, prefix, count, names in (
            (tasks, "t", n_tasks, task_columns),
            (outbox_table, "e", n_events, _OUTBOX_COLUMNS),
        )
        for n in range(count)
        for name in names
    ]
    if unless_deleted:
        params.append(sa.bindparam("deleted_since", type_=deleted_tasks.c.deleted_at.type))
    stmt = sa.text(sql).bindparams(*params)
    if len(_shapes) < _SHAPES_KEPT:
        _shapes[key] = stmt
    return stmt


_saves: dict[int, sa.TextClause] = {}


def _save_with_outbox(task_columns: list[str], n_events: int) -> sa.TextClause:
    """A changed task (every column of `task_columns` set, guarded by its
    previous version) and `n_events` outbox rows in one statement: the UPDATE
    in a data-modifying CTE, the rows inserted once per row it changed, so
    none when the version no longer matches. Text, built once per shape, for
    the reason `_tasks_with_outbox` gives."""
    found = _saves.get(n_events)
    if found is not None:
        return found
    assignments = ", ".join(f"{name} = :s_{name}" for name in task_columns)
    rows = " UNION ALL ".join(
        "SELECT " + ", ".join(f":e{n}_{name}" for name in _OUTBOX_COLUMNS) + " FROM changed"  # noqa: S608
        for n in range(n_events)
    )
    # Only the tables' own column names and parameter names go into the text.
    sql = (
        f"WITH changed AS (UPDATE {tasks.name} SET {assignments}"  # noqa: S608
        " WHERE id = :s_id AND user_id = :s_user_id AND version = :previous_version"
        " RETURNING 1)"
        f" INSERT INTO {outbox_table.name} ({', '.join(_OUTBOX_COLUMNS)}) {rows}"
    )
    params = [sa.bindparam(f"s_{name}", type_=tasks.c[name].type) for name in task_columns]
    params += [
        sa.bindparam("s_id", type_=tasks.c.id.type),
        sa.bindparam("s_user_id", type_=tasks.c.user_id.type),
        sa.bindparam("previous_version", type_=tasks.c.version.type),
    ]
    params += [
        sa.bindparam(f"e{n}_{name}", type_=outbox_table.c[name].type)
        for n in range(n_events)
        for name in _OUTBOX_COLUMNS
    ]
    stmt = sa.text(sql).bindparams(*params)
    if len(_saves) < _SHAPES_KEPT:
        _saves[n_events] = stmt
    return stmt


class TaskRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._pg = conn.dialect.name == "postgresql"

    async def add(self, task: Task) -> None:
        await self._conn.execute(tasks.insert().values(**_to_row(task)))

    def in_one_statement(self, new: Sequence[Task], outbox: Sequence[dict[str, Any]]) -> bool:
        """Whether `add_with_outbox(new, outbox)` is a single statement."""
        return bool(new) and self._pg and bool(outbox)

    async def add_with_outbox(
        self,
        new: Sequence[Task],
        outbox: Sequence[dict[str, Any]],
        *,
        unless_deleted_since: datetime | None = None,
    ) -> None:
        """New tasks and their outbox rows. On PostgreSQL one statement (the
        task rows inserted by a data-modifying CTE), so one round trip; SQLite
        has no such CTE and takes two statements in the same transaction.
        `TaskIdTaken` when a new task's id is already taken.

        `unless_deleted_since` (a single new task, whose id the client chose):
        `TaskIdDeleted`, and nothing written, when a task with that id was
        deleted then or later. On PostgreSQL the same statement checks it."""
        if not new:
            return
        guarded = unless_deleted_since is not None
        assert not guarded or len(new) == 1, "the deleted-id guard is for a single new task"
        rows = [_to_row(task) for task in new]
        try:
            if self.in_one_statement(new, outbox):
                params = {f"t{n}_{k}": v for n, row in enumerate(rows) for k, v in row.items()}
                params |= {f"e{n}_{k}": v for n, row in enumerate(outbox) for k, v in row.items()}
                if guarded:
                    params["deleted_since"] = unless_deleted_since
                stmt = _tasks_with_outbox(
                    list(rows[0]), len(rows), len(outbox), unless_deleted=guarded
                )
                written = await execute_counted(self._conn, stmt, params)
                if guarded and written == 0:
                    raise TaskIdDeleted(str(new[0].id))
                return
            if unless_deleted_since is not None and await self.get_deleted(
                new[0].user_id, new[0].id, since=unless_deleted_since
            ):
                raise TaskIdDeleted(str(new[0].id))
            await self._conn.execute(tasks.insert(), rows)
        except sa.exc.IntegrityError as exc:
            if _taken(exc):
                raise TaskIdTaken(str(exc.orig)) from exc
            raise
        if outbox:
            await self._conn.execute(outbox_table.insert(), list(outbox))

    async def add_if_absent(self, task: Task) -> bool:
        """Insert unless the series already has this occurrence (unique key)."""
        stmt = (
            conflict_insert(self._conn.dialect.name, tasks)
            .values(**_to_row(task))
            .on_conflict_do_nothing(index_elements=["series_id", "occurrence_at"])
        )
        return (await self._conn.execute(stmt)).rowcount == 1

    async def get(
        self, user_id: uuid.UUID, task_id: uuid.UUID, *, lock: bool = False
    ) -> Task | None:
        stmt = sa.select(tasks).where(tasks.c.id == task_id, tasks.c.user_id == user_id)
        if lock and self._pg:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else _from_row(row)

    def saves_in_one_statement(self, outbox: Sequence[dict[str, Any]]) -> bool:
        """Whether `save_with_outbox(..., outbox)` is a single statement."""
        return self._pg and bool(outbox)

    async def save_with_outbox(
        self, task: Task, *, previous_version: int, outbox: Sequence[dict[str, Any]]
    ) -> None:
        """`save`, with the change's outbox rows: on PostgreSQL one statement
        (one round trip) that writes the rows only if the task was saved."""
        if not self.saves_in_one_statement(outbox):
            await self.save(task, previous_version=previous_version)
            if outbox:
                await self._conn.execute(outbox_table.insert(), list(outbox))
            return
        values = _to_row(task)
        params = {f"s_{name}": value for name, value in values.items()}
        params["previous_version"] = previous_version
        params |= {f"e{n}_{k}": v for n, row in enumerate(outbox) for k, v in row.items()}
        del values["id"], values["user_id"]
        stmt = _save_with_outbox(list(values), len(outbox))
        if await execute_counted(self._conn, stmt, params) != len(outbox):
            raise VersionMismatch(previous_version, task.version)

    async def save(self, task: Task, *, previous_version: int) -> None:
        """Write a changed task; fails if someone else changed it meanwhile."""
        values = _to_row(task)
        del values["id"], values["user_id"]
        result = await self._conn.execute(
            tasks.update()
            .where(
                tasks.c.id == task.id,
                tasks.c.user_id == task.user_id,
                tasks.c.version == previous_version,
            )
            .values(**values)
        )
        if result.rowcount != 1:
            raise VersionMismatch(previous_version, task.version)

    async def delete(self, task: Task, *, at: datetime) -> None:
        """Remove the task, keeping its row as it was in `deleted_tasks` (restorable)."""
        await self._conn.execute(deleted_tasks.delete().where(deleted_tasks.c.id == task.id))
        await self._conn.execute(deleted_tasks.insert().values(**_to_row(task), deleted_at=at))
        await self._conn.execute(
            tasks.delete().where(tasks.c.id == task.id, tasks.c.user_id == task.user_id)
        )

    async def get_deleted(
        self, user_id: uuid.UUID, task_id: uuid.UUID, *, since: datetime
    ) -> Task | None:
        """The task as it was when deleted, if that was at `since` or later."""
        stmt = sa.select(deleted_tasks).where(
            deleted_tasks.c.id == task_id,
            deleted_tasks.c.user_id == user_id,
            deleted_tasks.c.deleted_at >= since,
        )
        if self._pg:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else _from_row(row)

    async def restore(self, task: Task) -> bool:
        """Put a deleted task back under its own id; False (and nothing changed)
        when its series has a task at the same occurrence meanwhile."""
        if not await self.add_if_absent(task):
            return False
        await self._conn.execute(
            deleted_tasks.delete().where(
                deleted_tasks.c.id == task.id, deleted_tasks.c.user_id == task.user_id
            )
        )
        return True

    async def purge_deleted(self, before: datetime) -> int:
        """Forget the deleted tasks kept since before `before`."""
        result = await self._conn.execute(
            deleted_tasks.delete().where(deleted_tasks.c.deleted_at < before)
        )
        return int(result.rowcount or 0)

    async def occurrence(
        self, user_id: uuid.UUID, series_id: uuid.UUID, occurrence_at: datetime
    ) -> Task | None:
        """The series' task for this occurrence, if there is one."""
        stmt = sa.select(tasks).where(
            tasks.c.user_id == user_id,
            tasks.c.series_id == series_id,
            tasks.c.occurrence_at == occurrence_at,
        )
        if self._pg:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else _from_row(row)

    async def find(
        self, user_id: uuid.UUID, query: TaskQuery, tz: ZoneInfo, *, now: datetime | None = None
    ) -> tuple[list[Task], int]:
        """One page of the user's tasks matching `query`, and the total count;
        `overdue` is read against `now` (the current time unless given)."""
        words = search_words(query.q) if query.q else []
        if query.q and not words:
            return [], 0
        conditions = [tasks.c.user_id == user_id, *self._filters(query, tz, now or _now())]
        source: sa.FromClause = tasks
        rank: sa.ColumnElement[Any] | None = None
        if words:
            source, rank, match = self._text_search(words)
            conditions.append(match)
        # The count rides along with the page, in the same statement: one round
        # trip, and the database counts once (an uncorrelated subquery).
        counted = sa.select(sa.func.count()).select_from(source).where(*conditions)
        stmt = (
            sa.select(tasks, counted.correlate(None).scalar_subquery().label("total"))
            .select_from(source)
            .where(*conditions)
            .order_by(*self._order(query, rank))
            .limit(query.limit)
            .offset((query.page - 1) * query.limit)
        )
        rows = (await self._conn.execute(stmt)).all()
        if rows:
            total = int(rows[0].total)
        elif query.page == 1:
            total = 0
        else:  # a page past the last one: nothing came back to carry the count
            total = int((await self._conn.execute(counted)).scalar_one())
        return [_from_row(r) for r in rows], total

    def _filters(
        self, query: TaskQuery, tz: ZoneInfo, now: datetime
    ) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        if query.overdue is not None:
            where.append(overdue(now) if query.overdue else sa.not_(overdue(now)))
        if query.status != "all":
            where.append(tasks.c.status == query.status)
        if query.priority:
            where.append(tasks.c.priority.in_(query.priority))
        if query.tags:
            where.append(self._has_tags(query.tags))
        if query.due_after is not None:
            where.append(tasks.c.due_at >= _bound(query.due_after, tz, start=True))
        if query.due_before is not None:
            end = _bound(query.due_before, tz, start=False)
            where.append(
                tasks.c.due_at < end
                if not isinstance(query.due_before, datetime)
                else tasks.c.due_at <= end
            )
        if query.is_recurring is not None:
            where.append(
                tasks.c.recurrence_rule.is_not(None)
                if query.is_recurring
                else tasks.c.recurrence_rule.is_(None)
            )
        return where

    def _has_tags(self, tags: Sequence[str]) -> sa.ColumnElement[bool]:
        if self._pg:
            column = sa.type_coerce(tasks.c.tags, postgresql.ARRAY(sa.String(50)))
            return column.contains(sa.cast(list(tags), postgresql.ARRAY(sa.String(50))))
        clauses = []
        for tag in tags:
            each = sa.func.json_each(tasks.c.tags).table_valued("value")
            clauses.append(sa.exists(sa.select(1).select_from(each).where(each.c.value == tag)))
        return sa.and_(*clauses)

    def _text_search(
        self, words: list[str]
    ) -> tuple[sa.FromClause, sa.ColumnElement[Any], sa.ColumnElement[bool]]:
        if self._pg:
            tsquery = sa.func.to_tsquery(
                sa.literal_column("'english'::regconfig"),
                " & ".join(f"{w}:*" for w in words),
            )
            vector: sa.ColumnElement[Any] = sa.literal_column("tasks.search_vector")
            return tasks, sa.func.ts_rank(vector, tsquery).desc(), vector.op("@@")(tsquery)
        fts = sa.table("tasks_fts", sa.column("rowid"))
        hits = (
            sa.select(
                fts.c.rowid.label("rowid"), sa.literal_column("bm25(tasks_fts)").label("rank")
            )
            .select_from(fts)
            .where(sa.literal_column("tasks_fts").op("MATCH")(" ".join(f'"{w}"*' for w in words)))
            .subquery("hits")
        )
        joined = tasks.join(hits, hits.c.rowid == sa.literal_column("tasks.rowid"))
        return joined, hits.c.rank.asc(), sa.true()

    def _order(
        self, query: TaskQuery, rank: sa.ColumnElement[Any] | None
    ) -> list[sa.ColumnElement[Any]]:
        tie = [tasks.c.created_at.desc(), tasks.c.id.desc()]
        if query.sort_by is None and rank is not None:
            return [rank, *tie]
        sort_by = query.sort_by or "created_at"
        if sort_by == "created_at":
            direction = sa.asc if query.sort_order == "asc" else sa.desc
            return [direction(tasks.c.created_at), direction(tasks.c.id)]
        column: sa.ColumnElement[Any] = {
            "updated_at": tasks.c.updated_at,
            "due_at": tasks.c.due_at,
            # "none" counts as no priority, so it sorts with the missing values.
            "priority": sa.func.nullif(tasks.c.priority_rank, 0),
            "title": sa.func.lower(tasks.c.title),
        }[sort_by]
        # Tasks without the sorted value come last in either direction; written
        # as NULLS LAST so the (user_id, due_at) index serves the common case.
        ordered = column.asc() if query.sort_order == "asc" else column.desc()
        return [ordered.nulls_last(), *tie]


def _bound(value: datetime | date, tz: ZoneInfo, *, start: bool) -> datetime:
    """A filter bound as an instant: a date is that whole day in the user's zone."""
    if isinstance(value, datetime):
        return localize(value, tz) if value.tzinfo is None else value
    first, after_last = day_bounds(value, tz)
    return first if start else after_last
