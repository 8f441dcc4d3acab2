"""task.completed of a recurring task → task.occurrence.generated, once."""

from datetime import datetime
from typing import Any

from events import CloudEvent, EventType, new_event
from events.bus import PermanentFailure
from events.processed import claim_event
from services.shared.timeutil import zone
from services.shared.uow import UnitOfWork
from services.tasks.domain.recurrence import Series, next_occurrence, reminder_lead

SOURCE = "/recurring-task-service"
CONSUMER = "recurring-task-occurrences"


def _when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def plan_next(task: dict[str, Any], series: dict[str, Any]) -> dict[str, Any] | None:
    """The next occurrence the domain plans from a `task.completed` event's
    task and series state, as `task.occurrence.generated` data; None when
    the series is over."""
    rule, completed_at = task.get("recurrence_rule"), _when(task.get("completed_at"))
    occurrence_at = _when(series.get("occurrence_at")) or _when(task.get("due_at"))
    if rule is None or occurrence_at is None or completed_at is None:
        return None
    tz = zone(task["timezone"])
    planned = next_occurrence(
        Series(
            rule=rule,
            tz=tz,
            start=_when(series.get("start_at")) or occurrence_at,
            occurrence_at=occurrence_at,
            sequence=int(series.get("sequence", 1)),
            exdates=frozenset(datetime.fromisoformat(d) for d in series.get("exdates", [])),
            from_completion=task.get("repeat_from") == "completion",
        ),
        completed_at,
        reminder_lead(_when(task.get("due_at")), _when(task.get("remind_at"))),
    )
    if planned is None:
        return None
    lead = planned.remind_lead
    return {
        "series_id": task["series_id"],
        "previous_task_id": task["id"],
        "occurrence_at": planned.occurrence_at.astimezone(tz).isoformat(),
        "sequence": planned.sequence,
        "remind_offset_seconds": None if lead is None else lead.total_seconds(),
    }


class OccurrenceHandler:
    def __init__(self, uow_factory: Any) -> None:
        self._uow = uow_factory

    async def __call__(self, event: CloudEvent) -> None:
        if event.type != EventType.TASK_COMPLETED:
            return
        try:
            task, series = event.data["task"], event.data.get("series", {})
            planned = plan_next(task, series)
        except (KeyError, TypeError, ValueError) as exc:
            raise PermanentFailure(f"malformed task.completed: {exc}") from exc
        if planned is None:  # not recurring, or the series has ended: nothing to do
            return
        uow: UnitOfWork
        async with self._uow() as uow:
            if not await claim_event(uow.connection, CONSUMER, event.id):
                return
            planned["user_id"] = event.userid
            uow.emit(
                new_event(
                    EventType.TASK_OCCURRENCE_GENERATED,
                    source=SOURCE,
                    user_id=event.userid,
                    subject=task["id"],
                    data=planned,
                )
            )
            await uow.commit()
