"""A recurring series in a calendar feed: one component with RRULE, RDATE and
EXDATE, and an override (RECURRENCE-ID) for each occurrence that has a row.

A series is stored as task rows sharing `series_id`: completed occurrences and
the current one (the head). In the feed it is one master component whose
DTSTART is the series' first occurrence, so COUNT and UNTIL count as they do
here; occurrences the series passed over (completed late, or skipped) become
EXDATEs, so an expansion shows exactly the occurrences that exist, and then
the future ones. A series repeated from completion has no fixed schedule: it
starts at its current occurrence.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from services.shared.timeutil import localize, zone
from services.tasks.domain.model import RepeatFrom, Status, Task
from services.tasks.domain.recurrence import Recurrence

# More past occurrences than this and the series starts at its current one
# (every passed one would otherwise be an EXDATE in every poll of the feed).
MAX_HISTORY = 1000
_UNTIL = re.compile(r"^(\d{8})(?:T(\d{6})(Z?))?$")


@dataclass(frozen=True, slots=True)
class SeriesLayout:
    head: Task
    rows: list[Task]
    tz: ZoneInfo
    # DTSTART as the rule's wall-clock time in `tz`, not normalised: on a day
    # the clocks skip it (02:30), later occurrences still come at that time.
    start: datetime
    rule: str | None
    rdates: list[datetime]
    exdates: list[datetime]
    overrides: list[Task]


def split_series(tasks: Sequence[Task]) -> tuple[list[Task], list[list[Task]]]:
    """Dated tasks outside any series, and the rows of each series, in the
    order their first row comes."""
    singles: list[Task] = []
    groups: dict[object, list[Task]] = {}
    for task in tasks:
        if task.due_at is None:
            continue
        if task.recurrence_rule is not None and task.occurrence_at is not None:
            groups.setdefault(task.series_id, []).append(task)
        else:
            singles.append(task)
    return singles, list(groups.values())


def feed_rule(rule: str, tz: ZoneInfo) -> str:
    """The rule with UNTIL as a UTC time, as RFC 5545 wants beside a TZID."""
    parts = []
    for part in rule.split(";"):
        name, _, value = part.partition("=")
        match = _UNTIL.match(value) if name == "UNTIL" else None
        if match is not None and not match.group(3):
            if match.group(2) is None:  # a date means the whole day, in the zone
                wall = datetime.combine(
                    datetime.strptime(match.group(1), "%Y%m%d").date(), time(23, 59, 59)
                )
            else:
                wall = datetime.strptime(match.group(1) + match.group(2), "%Y%m%d%H%M%S")
            part = "UNTIL=" + _utc(localize(wall, tz))
        parts.append(part)
    return ";".join(parts)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _head(rows: Sequence[Task]) -> Task:
    active = [r for r in rows if r.status is Status.ACTIVE]
    return max(active or rows, key=lambda r: (r.occurrence_at, r.sequence))


def _remaining(rule: str, sequence: int) -> str:
    """From completion, COUNT counts completions: what is left of it."""
    parts = []
    for part in rule.split(";"):
        if part.startswith("COUNT="):
            part = f"COUNT={max(int(part[6:]) - sequence + 1, 1)}"
        parts.append(part)
    return ";".join(parts)


def _count_as_until(rule: str, tz: ZoneInfo, anchor: datetime) -> str:
    """COUNT from the original start, said as UNTIL, so the series can start
    later and still end at the same occurrence."""
    if "COUNT=" not in rule:
        return rule
    last = None
    for last in Recurrence(rule, tz, anchor):  # noqa: B007 - COUNT bounds the loop
        pass
    kept = [p for p in rule.split(";") if not p.startswith("COUNT=")]
    return ";".join(kept if last is None else [*kept, "UNTIL=" + _utc(last)])


def lay_out(rows: Sequence[Task]) -> SeriesLayout:
    head = _head(rows)
    assert head.recurrence_rule is not None
    assert head.occurrence_at is not None
    tz = zone(head.timezone)
    rule = feed_rule(head.recurrence_rule, tz)
    if head.repeat_from is RepeatFrom.COMPLETION:
        laid = _layout(head, [head], tz, _remaining(rule, head.sequence), head.occurrence_at)
        assert laid is not None
        return laid
    anchor = min(head.series_start_at or head.occurrence_at, head.occurrence_at)
    laid = _layout(head, rows, tz, rule, anchor)
    if laid is None:  # too long a history: start at the current occurrence
        rule = _count_as_until(rule, tz, anchor)
        laid = _layout(head, rows, tz, rule, head.occurrence_at) or _layout(
            head, [head], tz, rule, head.occurrence_at
        )
    assert laid is not None
    return laid


def _layout(
    head: Task, rows: Sequence[Task], tz: ZoneInfo, rule: str, anchor: datetime
) -> SeriesLayout | None:
    kept = [r for r in rows if r.occurrence_at is not None and r.occurrence_at >= anchor]
    times = {r.occurrence_at.astimezone(UTC) for r in kept if r.occurrence_at is not None}
    last = max(times)
    instances: set[datetime] = set()
    first: datetime | None = None
    for instance in Recurrence(rule, tz, anchor):
        first = first or instance
        if instance > last:
            break
        instances.add(instance.astimezone(UTC))
        if len(instances) > MAX_HISTORY:
            return None
    assert head.occurrence_at is not None
    current = head.occurrence_at.astimezone(UTC)
    if first is None:  # the rule yields nothing: the rows are the whole series
        ordered = sorted(times)
        overrides = _overrides(head, kept)
        start = ordered[0].astimezone(tz)
        return SeriesLayout(head, kept, tz, start, None, ordered[1:], [], overrides)
    skipped = {d.astimezone(UTC) for d in head.exdates if d >= first}
    passed = {i for i in instances if i < current}
    return SeriesLayout(
        head=head,
        rows=kept,
        tz=tz,
        start=_first_wall(rule, tz, anchor) or first.astimezone(tz),
        rule=rule,
        rdates=sorted(times - instances),
        exdates=sorted((skipped | passed) - times),
        overrides=_overrides(head, kept),
    )


def _first_wall(rule: str, tz: ZoneInfo, anchor: datetime) -> datetime | None:
    """The rule's first wall-clock time, found by running it on wall times
    (as if in UTC, where no time is skipped), with `tz` attached as is."""
    wall = anchor.astimezone(tz).replace(tzinfo=UTC)
    bodyless = ";".join(p for p in rule.split(";") if not p.startswith("UNTIL="))
    first = Recurrence(bodyless, ZoneInfo("UTC"), wall).after(wall, inclusive=True)
    return None if first is None else first.replace(tzinfo=tz)


def _overrides(head: Task, rows: Sequence[Task]) -> list[Task]:
    """Every row but an active head shows at its own occurrence."""
    return [r for r in rows if r is not head or r.status is Status.COMPLETED]


__all__ = ["MAX_HISTORY", "SeriesLayout", "feed_rule", "lay_out", "split_series"]
