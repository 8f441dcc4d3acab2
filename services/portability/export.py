"""Everything of a user as one JSON document, and the tasks as CSV."""

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime

from services.audit.trail import stream_trail
from services.notification.inbox import NotificationPublic, list_notifications
from services.portability.reading import PortabilityUoW, Sources, all_tasks
from services.portability.schemas import ExportDocument, ExportedTask, ExportedUser, SeriesState
from services.shared.auth.principal import Principal
from services.tasks.domain.model import Task
from services.tasks.service import to_public

CSV_COLUMNS = (
    "id",
    "title",
    "description",
    "status",
    "priority",
    "tags",
    "due_at",
    "remind_at",
    "timezone",
    "recurrence_rule",
    "repeat_from",
    "completed_at",
)
NOTIFICATION_PAGE = 500


def exported(task: Task) -> ExportedTask:
    return ExportedTask(
        **to_public(task).model_dump(),
        series=SeriesState(
            series_start_at=task.series_start_at,
            occurrence_at=task.occurrence_at,
            sequence=task.sequence,
            exdates=list(task.exdates),
        ),
    )


async def export_tasks(uow: PortabilityUoW, *, user: Principal) -> list[ExportedTask]:
    return [exported(t) for t in await all_tasks(uow.tasks, user.user_id)]


async def _notifications(uow: PortabilityUoW, user: Principal) -> list[NotificationPublic]:
    found: list[NotificationPublic] = []
    page = 1
    while True:
        batch = await list_notifications(
            uow.connection, user_id=user.user_id, page=page, limit=NOTIFICATION_PAGE
        )
        found.extend(batch.items)
        if page >= batch.pages:
            return found
        page += 1


async def export_document(sources: Sources, *, user: Principal) -> ExportDocument:
    """The user's tasks (with their series state), notifications, conversations
    and audit trail. The trail is read after the task transaction has ended:
    it comes through connections of its own."""
    async with sources.uow() as uow:
        tasks = await export_tasks(uow, user=user)
        notifications = await _notifications(uow, user)
    trail = stream_trail(
        sources.engine, actor=user.user_id, event_type=None, resource_id=None, start=None, end=None
    )
    return ExportDocument(
        exported_at=datetime.now(UTC),
        user=ExportedUser(
            id=user.user_id,
            email=user.email,
            display_name=user.display_name,
            timezone=user.timezone,
        ),
        tasks=tasks,
        notifications=notifications,
        conversations=[],
        audit=[entry async for entry in trail],
    )


def tasks_csv(tasks: Sequence[ExportedTask]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for task in tasks:
        row = task.model_dump(mode="json")
        row["tags"] = ",".join(task.tags)
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return buffer.getvalue()


__all__ = ["CSV_COLUMNS", "export_document", "export_tasks", "exported", "tasks_csv"]
