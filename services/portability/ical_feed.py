"""The iCalendar document of a user's dated tasks (RFC 5545), built with the
`icalendar` library: VTODOs, or VEVENTs for calendars that ignore VTODO.

Times carry the task's TZID and a VTIMEZONE with RRULE-based observances is
included for every zone used (see `vtimezone`).
The document depends only on the stored tasks (no clock is read), so the same
tasks always give the same bytes.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Component, Event, Timezone, Todo, vRecur

from services.portability.feed_series import SeriesLayout, lay_out, split_series
from services.portability.schemas import FeedKind
from services.portability.vtimezone import vtimezone
from services.shared.timeutil import zone
from services.tasks.domain.model import Priority, Status, Task

PRODID = "-//todo-app//calendar feed//EN"
UID_DOMAIN = "todo-app"
# RFC 5545 §3.8.1.9: 1 is the highest, 9 the lowest, 0 undefined.
ICAL_PRIORITY = {Priority.HIGH: 1, Priority.MEDIUM: 5, Priority.LOW: 9}
REFRESH = timedelta(minutes=15)


def task_uid(task_id: uuid.UUID, suffix: str = "") -> str:
    return f"{task_id}{suffix}@{UID_DOMAIN}"


class _Zones:
    """The span of times used in each zone, for its VTIMEZONE."""

    def __init__(self) -> None:
        self._spans: dict[str, tuple[datetime, datetime]] = {}

    def local(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """`moment` in `tz`; a time that already carries `tz` is kept as it is."""
        if tz.key not in ("UTC",):
            low, high = self._spans.get(tz.key, (moment, moment))
            self._spans[tz.key] = (min(low, moment), max(high, moment))
        return moment if moment.tzinfo is tz else moment.astimezone(tz)

    def components(self) -> list[Timezone]:
        return [vtimezone(key, low, high) for key, (low, high) in sorted(self._spans.items())]


def build_feed(tasks: Sequence[Task], *, kind: FeedKind, name: str) -> bytes:
    """The feed of these tasks: singles and one master per recurring series."""
    zones = _Zones()
    singles, groups = split_series(tasks)
    components: list[Component] = []
    series_uids = {str(rows[0].series_id) for rows in groups}
    for rows in groups:
        components.extend(_series(lay_out(rows), kind, zones))
    for task in singles:
        # A task that left a series may carry that series' id as its own.
        suffix = "-task" if str(task.id) in series_uids else ""
        components.append(_single(task, kind, zones, task_uid(task.id, suffix)))
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", REFRESH)
    for timezone in zones.components():
        cal.add_component(timezone)
    for component in components:
        cal.add_component(component)
    return bytes(cal.to_ical())


def _single(task: Task, kind: FeedKind, zones: _Zones, uid: str) -> Component:
    assert task.due_at is not None
    tz = zone(task.timezone)
    return _component(
        task, kind, uid, zones.local(task.due_at, tz), sequence=task.version, stamp=task.updated_at
    )


def _series(layout: SeriesLayout, kind: FeedKind, zones: _Zones) -> list[Component]:
    head, tz = layout.head, layout.tz
    uid = task_uid(head.series_id)
    # Each row's version only grows; a new occurrence row adds one more.
    sequence = sum(r.version for r in layout.rows)
    stamp = max(r.updated_at for r in layout.rows)
    master = _component(
        head,
        kind,
        uid,
        zones.local(layout.start, tz),
        sequence=sequence,
        stamp=stamp,
        master=True,
        recurring=True,
    )
    if layout.rule is not None:
        master.add("rrule", vRecur.from_ical(layout.rule))
    if layout.rdates:
        master.add("rdate", [zones.local(d, tz) for d in layout.rdates])
    if layout.exdates:
        master.add("exdate", [zones.local(d, tz) for d in layout.exdates])
    found = [master]
    for row in layout.overrides:
        assert row.occurrence_at is not None
        at = zones.local(row.occurrence_at, tz)
        override = _component(row, kind, uid, at, sequence=sequence, stamp=stamp, recurring=True)
        override.add("recurrence-id", at)
        found.append(override)
    return found


def _component(
    task: Task,
    kind: FeedKind,
    uid: str,
    at: datetime,
    *,
    sequence: int,
    stamp: datetime,
    master: bool = False,
    recurring: bool = False,
) -> Component:
    component: Component = Todo() if kind == "todo" else Event()
    component.add("uid", uid)
    component.add("dtstamp", stamp.astimezone(UTC))
    component.add("created", task.created_at.astimezone(UTC))
    component.add("last-modified", task.updated_at.astimezone(UTC))
    component.add("summary", task.title)
    if task.description:
        component.add("description", task.description)
    if kind == "event" or recurring:
        # RFC 5545 wants DTSTART wherever RRULE is (it anchors the rule) and
        # a VTODO's DUE later than its DTSTART: a task due at a moment has
        # no such later time, so an occurrence's DTSTART is its due time.
        component.add("dtstart", at)
    else:
        component.add("due", at)  # alone: DUE equal to DTSTART is invalid
    if task.priority in ICAL_PRIORITY:
        component.add("priority", ICAL_PRIORITY[task.priority])
    if task.tags:
        component.add("categories", list(task.tags))
    component.add("sequence", sequence)
    done = task.status is Status.COMPLETED and not master
    if kind == "event":
        component.add("status", "CONFIRMED")
    elif done:
        assert task.completed_at is not None
        component.add("status", "COMPLETED")
        component.add("completed", task.completed_at.astimezone(UTC))
        component.add("percent-complete", 100)
    else:
        component.add("status", "NEEDS-ACTION")
    if not done and task.status is Status.ACTIVE:
        alarm = _alarm(task, related="END" if kind == "todo" and not recurring else "START")
        if alarm is not None:
            component.add_component(alarm)
    return component


def _alarm(task: Task, related: str) -> Alarm | None:
    """The reminder, relative to the due time (so it moves with each occurrence)."""
    if task.remind_at is None or task.due_at is None:
        return None
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", task.title)
    before = -(task.due_at - task.remind_at)
    # END is a VTODO's DUE (RFC 5545 §3.8.6.3); an event, or an occurrence
    # of a series, starts at the due time.
    alarm.add("trigger", before, parameters={"RELATED": related})
    return alarm


__all__ = ["ICAL_PRIORITY", "PRODID", "UID_DOMAIN", "build_feed", "task_uid"]
