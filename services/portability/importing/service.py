"""Import (service layer): one transaction for the whole file.

Either every record is fine (created, or skipped as a duplicate) and the new
tasks are stored the way every new task is (`store_new_tasks`: their
`task.created` events in the outbox, counted in `todo_tasks_created_total`),
or nothing is stored and the report lists every record that cannot be
imported.
"""

import asyncio
from datetime import UTC, datetime

from services.portability.errors import ImportRefused
from services.portability.importing.plan import plan_import
from services.portability.importing.sources import read_file
from services.portability.reading import PortabilityUoW, all_tasks
from services.portability.schemas import ImportFormat, ImportItem, ImportReport
from services.shared.auth.principal import Principal
from services.tasks.service import store_new_tasks


async def import_file(
    uow: PortabilityUoW,
    *,
    user: Principal,
    content: bytes,
    dry_run: bool = False,
    declared: ImportFormat | None = None,
    media_type: str | None = None,
    filename: str | None = None,
) -> ImportReport:
    """Import a file of ours (JSON export, CSV) or an iCalendar file of VTODOs."""
    # Reading and planning are CPU work (10,000 rows take seconds): off the loop.
    reading = await asyncio.to_thread(
        read_file,
        content,
        timezone=user.timezone,
        declared=declared,
        media_type=media_type,
        filename=filename,
    )
    now = datetime.now(UTC)
    file_level = any(p.row is None for p in reading.problems)
    existing = [] if file_level else await all_tasks(uow.tasks, user.user_id)
    plan = await asyncio.to_thread(plan_import, reading, existing, user=user, now=now)
    # Refused, nothing is created: the items say what would have been.
    items = [_as_planned(i, dry_run or bool(plan.problems)) for i in plan.items]
    report = ImportReport(
        format=reading.format,
        dry_run=dry_run,
        records=len(reading.drafts),
        created=sum(i.outcome in ("created", "would_create") for i in items),
        duplicates=sum(i.outcome == "duplicate" for i in items),
        skipped=sum(i.outcome == "skipped" for i in items),
        items=items,
        errors=sorted(plan.problems, key=lambda p: (p.row or 0, p.field)),
        notes=reading.notes,
    )
    if report.errors:
        raise ImportRefused(report)
    if not dry_run and plan.tasks:
        await store_new_tasks(uow, plan.tasks, imported=True)
    return report


def _as_planned(item: ImportItem, only_planned: bool) -> ImportItem:
    if not only_planned or item.outcome != "created":
        return item
    return item.model_copy(update={"outcome": "would_create", "task_id": None})


__all__ = ["import_file"]
