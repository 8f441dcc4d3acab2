"""The campaign's invariants, as pure functions over what was observed.

The driver records what the API acknowledged, what each WebSocket listener
received, every HTTP status and the fault windows; the collector reads the
audit trail, the tasks of each series, the deliveries and the DLQ. Each check
returns the list of its violations (empty when the invariant holds), so a
test can break one thing on purpose and see exactly that reported.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "Ack",
    "AuditRow",
    "Delivery",
    "FaultWindow",
    "Observations",
    "Reminder",
    "Response",
    "SeriesTask",
    "WsMessage",
    "WsSession",
    "check_all",
    "check_audit",
    "check_dlq",
    "check_no_5xx",
    "check_recurring",
    "check_reminders",
    "check_websockets",
]

# The change types an API call acknowledges; others (reminder.*, chat.*) are
# produced by the system itself and are checked by their own invariant.
CHANGE_TYPES = frozenset({"task.created", "task.updated", "task.completed", "task.deleted"})
CHANNELS = ("in_app", "email", "webhook")


@dataclass(frozen=True)
class Ack:
    """A change the API acknowledged (2xx) and the task version it returned."""

    user_id: str
    task_id: str
    event_type: str
    version: int
    at: float
    series_id: str | None = None
    recurring: bool = False


@dataclass(frozen=True)
class AuditRow:
    event_id: str
    event_type: str
    resource_id: str | None


@dataclass(frozen=True)
class SeriesTask:
    task_id: str
    series_id: str
    due_at: str | None


@dataclass(frozen=True)
class Reminder:
    """A reminder that was due before the end of the run."""

    user_id: str
    task_id: str
    remind_at: float


@dataclass(frozen=True)
class Delivery:
    """One delivery a channel's receiver got. `key` is the idempotency key it
    carried (the webhook's X-Todo-Event-Id, the mail's Message-ID): delivery
    to an outside system is at least once, and a receiver drops a resend with
    a key it has seen. None: every copy counts."""

    channel: str
    task_id: str
    key: str | None = None


@dataclass(frozen=True)
class WsSession:
    listener: str
    user_id: str
    connected_at: float
    disconnected_at: float | None


@dataclass(frozen=True)
class WsMessage:
    listener: str
    event_type: str
    task_id: str
    version: int
    at: float


@dataclass(frozen=True)
class Response:
    at: float
    replica: str
    status: int
    what: str


@dataclass(frozen=True)
class FaultWindow:
    """From the fault's injection until the system answered again.

    `excuses_5xx` names the replicas a 5xx may come from meanwhile ("*" for
    all: a database restart), empty for faults the API must hide."""

    name: str
    start: float
    end: float
    excuses_5xx: frozenset[str] = frozenset()


@dataclass
class Observations:
    acks: list[Ack] = field(default_factory=list)
    audit: list[AuditRow] = field(default_factory=list)
    series: list[SeriesTask] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    sessions: list[WsSession] = field(default_factory=list)
    ws_messages: list[WsMessage] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    faults: list[FaultWindow] = field(default_factory=list)
    dlq: list[tuple[str, str]] = field(default_factory=list)  # (event id, consumer group)
    poisoned: list[str] = field(default_factory=list)
    channels: tuple[str, ...] = CHANNELS
    # How long after connecting a listener is expected to be subscribed.
    ws_settle_seconds: float = 1.0


def check_audit(acks: Iterable[Ack], audit: Iterable[AuditRow]) -> list[str]:
    """Every acknowledged change has exactly one event in the audit trail."""
    # An update that changed nothing returns the same version and emits nothing.
    acks = list({(a.task_id, a.event_type, a.version): a for a in acks}.values())
    audit = list(audit)
    problems = [
        f"event {event_id} recorded {n} times in the audit trail"
        for event_id, n in Counter(row.event_id for row in audit).items()
        if n > 1
    ]
    ours = {a.task_id for a in acks}
    expected = Counter((a.task_id, a.event_type) for a in acks if a.event_type in CHANGE_TYPES)
    seen = Counter(
        (row.resource_id, row.event_type)
        for row in audit
        if row.resource_id in ours and row.event_type in CHANGE_TYPES
    )
    for key in sorted(set(expected) | set(seen), key=str):
        want, got = expected.get(key, 0), seen.get(key, 0)
        if want != got:
            problems.append(f"task {key[0]} {key[1]}: {want} acknowledged, {got} audited")
    return problems


def check_recurring(acks: Iterable[Ack], series: Iterable[SeriesTask]) -> list[str]:
    """Every completed recurring occurrence has exactly one next occurrence:
    a series holds its first task plus one per completion, no two at one time."""
    completions: Counter[str] = Counter()
    for ack in acks:
        if ack.recurring and ack.event_type == "task.completed" and ack.series_id:
            completions[ack.series_id] += 1
    members: dict[str, list[SeriesTask]] = defaultdict(list)
    for task in series:
        members[task.series_id].append(task)
    problems = []
    for series_id, done in sorted(completions.items()):
        tasks = members.get(series_id, [])
        if len(tasks) != done + 1:
            problems.append(
                f"series {series_id}: {done} completed, {len(tasks)} occurrences (want {done + 1})"
            )
        for due, n in Counter(t.due_at for t in tasks).items():
            if n > 1:
                problems.append(f"series {series_id}: {n} occurrences due {due}")
    return problems


def received(deliveries: Iterable[Delivery]) -> list[Delivery]:
    """What the receivers kept: a resend with a key seen before is dropped."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for d in deliveries:
        if d.key is not None:
            if (d.channel, d.key) in seen:
                continue
            seen.add((d.channel, d.key))
        kept.append(d)
    return kept


def check_reminders(
    reminders: Iterable[Reminder],
    audit: Iterable[AuditRow],
    deliveries: Iterable[Delivery],
    channels: Iterable[str] = CHANNELS,
) -> list[str]:
    """Every reminder due before the end fired exactly once and reached each
    channel exactly once."""
    fired = Counter(r.resource_id for r in audit if r.event_type == "reminder.triggered")
    delivered = Counter((d.channel, d.task_id) for d in received(deliveries))
    problems = []
    for reminder in reminders:
        n = fired.get(reminder.task_id, 0)
        if n != 1:
            problems.append(f"reminder of task {reminder.task_id} fired {n} times")
        for channel in channels:
            got = delivered.get((channel, reminder.task_id), 0)
            if got != 1:
                problems.append(
                    f"reminder of task {reminder.task_id}: {got} deliveries by {channel}"
                )
    return problems


def check_websockets(
    acks: Iterable[Ack],
    sessions: Iterable[WsSession],
    messages: Iterable[WsMessage],
    settle: float = 1.0,
) -> list[str]:
    """Every listener received every change of its user made while one of its
    connections was open (after it settled), each once, in version order per
    task. A listener reconnects after a drop and resumes where it stopped
    (`/ws?since=`): a change made just before a drop may arrive on the next
    connection, and counts there."""
    by_listener: dict[str, list[WsMessage]] = defaultdict(list)
    for message in messages:
        by_listener[message.listener].append(message)
    acks_by_user: dict[str, list[Ack]] = defaultdict(list)
    for ack in acks:
        if ack.event_type in CHANGE_TYPES:
            acks_by_user[ack.user_id].append(ack)
    problems = []
    for session in sessions:
        got = {(m.task_id, m.version) for m in by_listener.get(session.listener, [])}
        end = session.disconnected_at if session.disconnected_at is not None else float("inf")
        for ack in acks_by_user.get(session.user_id, []):
            if (
                session.connected_at + settle <= ack.at <= end
                and (ack.task_id, ack.version) not in got
            ):
                problems.append(
                    f"listener {session.listener} missed {ack.event_type} "
                    f"of task {ack.task_id} v{ack.version}"
                )
    for listener, stream in sorted(by_listener.items()):
        last: dict[str, int] = {}
        for m in sorted(stream, key=lambda m: m.at):
            before = last.get(m.task_id)
            if before is not None and m.version <= before:
                word = "twice" if m.version == before else "out of order"
                problems.append(
                    f"listener {listener} got task {m.task_id} v{m.version} {word} "
                    f"(after v{before})"
                )
            last[m.task_id] = max(m.version, before or 0)
    return problems


def check_no_5xx(responses: Iterable[Response], faults: Iterable[FaultWindow]) -> list[str]:
    """No 5xx, except from a replica while a fault that excuses it was on."""
    faults = list(faults)
    problems = []
    for r in responses:
        if r.status < 500:
            continue
        excused = any(
            f.start <= r.at <= f.end and (r.replica in f.excuses_5xx or "*" in f.excuses_5xx)
            for f in faults
        )
        if not excused:
            problems.append(f"{r.status} from {r.replica} on {r.what} at t={r.at:.1f}s")
    return problems


def check_dlq(dlq: Iterable[tuple[str, str]], poisoned: Iterable[str]) -> list[str]:
    """The DLQ holds the events poisoned on purpose, once per consumer group
    that read them, and nothing else."""
    counts = Counter(dlq)
    wanted = set(poisoned)
    problems = [
        f"unexpected event {e} in the DLQ (from {group})"
        for e, group in sorted(counts)
        if e not in wanted
    ]
    problems += [
        f"event {e} in the DLQ {n} times from {group}"
        for (e, group), n in sorted(counts.items())
        if n > 1
    ]
    seen = {e for e, _ in counts}
    problems += [f"poisoned event {e} never reached the DLQ" for e in sorted(wanted - seen)]
    return problems


def check_all(obs: Observations) -> dict[str, list[str]]:
    """Each invariant's name and its violations."""
    return {
        "acknowledged change → exactly one audit event": check_audit(obs.acks, obs.audit),
        "completed recurring → exactly one next occurrence": check_recurring(obs.acks, obs.series),
        "due reminder → fired once, once per channel": check_reminders(
            obs.reminders, obs.audit, obs.deliveries, obs.channels
        ),
        "WebSocket listener → every change, in order": check_websockets(
            obs.acks, obs.sessions, obs.ws_messages, obs.ws_settle_seconds
        ),
        "no 5xx outside a replica/database fault": check_no_5xx(obs.responses, obs.faults),
        "DLQ holds only the poisoned events": check_dlq(obs.dlq, obs.poisoned),
    }
