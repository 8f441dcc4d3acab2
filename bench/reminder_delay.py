"""Reminders: reminder firing delay, actual - scheduled.

The whole system runs in this process on the memory bus (every service, no
HTTP server). N reminders due within the same minute are fed to the
recurring-task service's own `ScheduleHandler` as the `task.created` events
the task service emits (built by its `new_task` and `task_event`), for a few
users. They fall on whole seconds, spread over `spread_s` seconds starting
`lead_s` after the feeding is expected to be done, so many share one instant
as real reminders do ("at 9:00"). The running `ReminderScheduler` fires them.

Per reminder, against its `remind_at`:
- fired: the `fired_at` the scheduler wrote into `reminder.triggered` (the
  time its pass began, the same for every row the pass claims);
- emitted: the event's own time (built right after that row's claim);
- received: when a subscriber on reminder-events handled it;
- inbox: when the notification service stored the in-app notification.

The same reminders are then fired by the Dapr Jobs API (REMINDER_SCHEDULER=dapr-jobs, on
PostgreSQL): a real Dapr scheduler and daprd in front of the system served over HTTP, one
job per reminder scheduled by the `ScheduleHandler` as it is fed, fired when daprd calls
`POST /job/<name>`. Without a built daprd and scheduler (`make daprd`) that side says it
did not run.

The floor, in the same loop under the same load: one asyncio timer per
reminder set for the same instant (`loop.call_at`); its lateness is what
any scheduler in this process would pay. Target every reminder
within 1 s of its time.

The burst: `burst_reminders` reminders due in the very same second (on the
memory bus on SQLite and PostgreSQL, and on Kafka), the case where one pass
of the scheduler and the relay has the most to do at once; its headline is
the p99 of `received` against the due time.
"""

import asyncio
import contextlib
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.common import Stopwatch, ratio, runner_of
from bench.dapr_latency import NotRun, daprd_binary, daprd_command
from bench.kafka_floor import kafka_servers
from bench.latency import latency_or_none
from bench.report_events import render_reminders
from bench.system import (
    KAFKA_POSTGRES,
    MEMORY_POSTGRES,
    MEMORY_SQLITE,
    Backend,
    Recorder,
    System,
    created_event,
)
from events.bus import Handler, Subscription
from events.cloudevents import CloudEvent
from events.topics import EventType, Topic
from services.composition import process_of
from services.notification.tables import notifications
from services.recurring.reminders import CONSUMER as SCHEDULE_GROUP
from services.shared.tables import users
from testsupport.dapr_scheduler import DaprScheduler, scheduler_binary
from testsupport.ports import free_port

DATABASE = "todo_bench_reminders"
TARGET_S = 1.0
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC")
FEEDERS = 4


@dataclass(frozen=True, slots=True)
class ReminderConfig:
    reminders: int
    users: int
    spread_s: int
    lead_s: float  # between the expected end of feeding and the first reminder
    feed_budget_s: float  # feeding is expected to take at most this long
    drain_s: float = 30.0  # after the last due time, how long to wait for stragglers
    # The burst: this many reminders of `burst_users` users due in the same second.
    burst_reminders: int = 1000
    burst_users: int = 50
    burst_lead_s: float = 3.0


FULL = ReminderConfig(reminders=1000, users=10, spread_s=20, lead_s=15.0, feed_budget_s=5.0)
QUICK = ReminderConfig(
    reminders=160,
    users=5,
    spread_s=4,
    lead_s=1.5,
    feed_budget_s=1.5,
    drain_s=15.0,
    burst_reminders=200,
    burst_users=10,
    burst_lead_s=1.5,
)


def reminder_task_id(event: CloudEvent) -> str | None:
    if event.type != EventType.REMINDER_TRIGGERED:
        return None
    return str(event.data.get("task_id"))


def _schedule_handler(system: System) -> Handler:
    assert system.container is not None
    for subscription in process_of(system.container).subscriptions:
        if subscription.group == SCHEDULE_GROUP:
            return subscription.handler
    raise RuntimeError("the recurring-task service's schedule handler is not composed")


async def _users(system: System, count: int) -> list[tuple[uuid.UUID, str]]:
    assert system.container is not None
    made = [(uuid.uuid4(), ZONES[k % len(ZONES)]) for k in range(count)]
    async with system.container.engine.begin() as conn:
        await conn.execute(
            users.insert(),
            [
                {
                    "id": uid,
                    "email": f"remind-{uid.hex[:10]}@bench.example.com",
                    "timezone": tz,
                    "is_local": False,
                    "created_at": datetime.now(UTC),
                }
                for uid, tz in made
            ],
        )
    return made


def _events(
    cfg: ReminderConfig, owners: list[tuple[uuid.UUID, str]], first: datetime
) -> tuple[list[CloudEvent], dict[str, datetime]]:
    """The task.created events, and each task's planned reminder time."""
    events, planned = [], {}
    for i in range(cfg.reminders):
        user, tz = owners[i % len(owners)]
        remind = first + timedelta(seconds=i * cfg.spread_s // cfg.reminders)
        event = created_event(
            user,
            {
                "title": f"Reminder {i:04d}: call the plumber",
                "remind_at": remind.isoformat(),
                "due_at": (remind + timedelta(hours=1)).isoformat(),
                "priority": "medium",
            },
            tz,
        )
        events.append(event)
        planned[str(event.data["task"]["id"])] = remind
    return events, planned


async def _feed(handler: Handler, events: list[CloudEvent]) -> None:
    queue = list(reversed(events))

    async def feeder() -> None:
        while queue:
            await handler(queue.pop())

    await asyncio.gather(*(feeder() for _ in range(FEEDERS)))


class TimerFloor:
    """One asyncio timer per reminder; notes how late each one ran."""

    def __init__(self) -> None:
        self.late: list[float] = []

    def arm(self, planned: dict[str, datetime]) -> None:
        loop = asyncio.get_running_loop()
        wall, mono = time.time(), loop.time()
        for when in planned.values():
            due = when.timestamp()
            loop.call_at(mono + (due - wall), self._ran, due)

    def _ran(self, due: float) -> None:
        self.late.append(time.time() - due)


async def _inbox(system: System) -> dict[str, datetime]:
    assert system.container is not None
    async with system.container.engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(notifications.c.task_id, notifications.c.created_at))
        ).all()
    stored = {}
    for task_id, created in rows:
        if isinstance(created, str):
            created = datetime.fromisoformat(created)
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        stored[str(task_id)] = created
    return stored


DAPR_JOBS = "dapr-jobs/postgres"


def _scheduler_binary() -> str:
    path = scheduler_binary()
    if path is None:
        try:
            out = subprocess.run(  # noqa: S603 - our own script
                [str(Path(__file__).parents[1] / "scripts" / "dapr.sh"), "scheduler", "--print"],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise NotRun(f"scripts/dapr.sh scheduler --print failed: {exc}") from exc
        path = out.stdout.strip()
    if not path or not Path(path).is_file():
        raise NotRun(f"the Dapr scheduler is not built ({path or 'no path'}): run `make daprd`")
    return path


def _spawn(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as out:  # the child keeps its own copy
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603


@contextlib.asynccontextmanager
async def _jobs_sidecar(system: System, http_port: int, grpc_port: int) -> Any:
    """A Dapr scheduler and a daprd (no components) in front of the served system."""
    daprd = daprd_binary()
    scheduler_path = _scheduler_binary()
    with tempfile.TemporaryDirectory(prefix="todo-bench-jobs-") as tmp:
        work = Path(tmp)
        (work / "components").mkdir()
        async with DaprScheduler(scheduler_path, work) as scheduler:
            app_port = int(system.base_url.rsplit(":", 1)[1])
            command = daprd_command(
                daprd,
                app_id="recurring-task-service",
                app_port=app_port,
                http_port=http_port,
                grpc_port=grpc_port,
                resources=work / "components",
                scheduler=scheduler.address,
            )
            proc = _spawn(command, work / "daprd.log")
            try:
                async with httpx.AsyncClient() as client, asyncio.timeout(60):
                    while True:
                        if proc.poll() is not None:
                            raise RuntimeError(f"daprd exited ({proc.returncode})")
                        with contextlib.suppress(httpx.HTTPError):
                            url = f"http://127.0.0.1:{http_port}/v1.0/healthz"
                            if (await client.get(url)).status_code == 204:
                                break
                        await asyncio.sleep(0.1)
                yield
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def _backend(
    backend: Backend,
    cfg: ReminderConfig,
    log: Callable[[str], None],
    kafka: str | None = None,
    *,
    jobs: bool = False,
) -> dict[str, Any]:
    recorder = Recorder(reminder_task_id)
    subscription = Subscription(Topic.REMINDER_EVENTS, "bench-reminders-recorder", recorder)
    watch = Stopwatch()
    settings: dict[str, Any] = {}
    if jobs:
        http_port, grpc_port = free_port(), free_port()
        settings = {
            "reminder_scheduler": "dapr-jobs",
            "dapr_http_port": http_port,
            "dapr_grpc_port": grpc_port,
        }
    async with contextlib.AsyncExitStack() as stack:
        system = await stack.enter_async_context(
            System(backend, DATABASE, [subscription], serve=jobs, settings=settings, kafka=kafka)
        )
        if jobs:
            await stack.enter_async_context(_jobs_sidecar(system, http_port, grpc_port))
        assert system.container is not None
        owners = await _users(system, cfg.users)
        first = datetime.now(UTC) + timedelta(seconds=cfg.feed_budget_s + cfg.lead_s)
        first = first.replace(microsecond=0) + timedelta(seconds=1)
        events, planned = _events(cfg, owners, first)
        floor = TimerFloor()
        floor.arm(planned)
        feed_watch = Stopwatch()
        await _feed(_schedule_handler(system), events)
        feed_s = feed_watch.elapsed
        lead = (first - datetime.now(UTC)).total_seconds()
        name = DAPR_JOBS if jobs else backend.name
        log(
            f"  {name}: fed {len(events):,} reminders in {feed_s:.1f} s;"
            f" the first is due in {lead:.1f} s"
        )
        last = max(planned.values())
        deadline = (last - datetime.now(UTC)).total_seconds() + cfg.drain_s
        await _until_received(recorder, planned, max(deadline, 1.0))
        # Let the notification service store the last ones too.
        await asyncio.sleep(0.5)
        inbox = await _inbox(system)
        fired_total = None if jobs else system.container.reminders.fired_total
    fired, emitted, received, stored = [], [], [], []
    for task_id, remind in planned.items():
        event = recorder.events.get(task_id)
        if event is None:
            continue
        due = remind.timestamp()
        fired.append(datetime.fromisoformat(event.data["fired_at"]).timestamp() - due)
        emitted.append(event.time.timestamp() - due)
        received.append(recorder.wall[task_id] - due)
        if task_id in inbox:
            stored.append(inbox[task_id].timestamp() - due)
    result: dict[str, Any] = {
        "reminders": len(planned),
        "distinct_instants": len(set(planned.values())),
        "feed_seconds": round(feed_s, 2),
        "lead_after_feeding_s": round(lead, 2),
        "fired_events": len(recorder.events),
        "redeliveries_seen": recorder.duplicates,
        "scheduler_fired_total": fired_total,
        "missing": len(planned) - len(recorder.events),
        "delay": {
            "fired_at": latency_or_none(fired),
            "event_time": latency_or_none(emitted),
            "received": latency_or_none(received),
            "inbox_stored": latency_or_none(stored),
        },
        "timer_floor": latency_or_none(floor.late),
        "seconds": round(watch.elapsed, 1),
    }
    worst_fired = max(fired, default=float("inf"))
    worst_received = max(received, default=float("inf"))
    result["meets_target_fired"] = result["missing"] == 0 and worst_fired <= TARGET_S
    result["meets_target_received"] = result["missing"] == 0 and worst_received <= TARGET_S
    if received and floor.late:
        result["ratio_received_p99_over_timer_p99"] = round(
            ratio(result["delay"]["received"]["p99_ms"], result["timer_floor"]["p99_ms"]), 1
        )
    return result


async def _until_received(recorder: Recorder, planned: dict[str, Any], limit: float) -> None:
    """Until every planned reminder was received or `limit` seconds have passed; what
    never came counts as missing. One deadline, checked between short waits: a timeout
    nested in another can swallow the outer one's cancellation (Python 3.11), and then
    a missing reminder would be waited for forever."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    for task_id in planned:
        while (left := end - loop.time()) > 0:
            if await recorder.wait(task_id, min(1.0, left)) is not None:
                break
        else:
            return


def burst_of(cfg: ReminderConfig) -> ReminderConfig:
    """The burst: `burst_reminders` reminders all due in the same second."""
    return replace(
        cfg,
        reminders=cfg.burst_reminders,
        users=cfg.burst_users,
        spread_s=0,
        lead_s=cfg.burst_lead_s,
    )


async def run(cfg: ReminderConfig, log: Callable[[str], None]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "config": asdict(cfg),
        "target_s": TARGET_S,
        "backends": {},
        "burst": {},
    }
    for backend in (MEMORY_SQLITE, MEMORY_POSTGRES):
        log(f"  spread: {backend.name}")
        result["backends"][backend.name] = await _backend(backend, cfg, log)
    kafka, skipped = await kafka_servers()
    burst_backends = [MEMORY_SQLITE, MEMORY_POSTGRES, KAFKA_POSTGRES]
    if kafka is None:
        burst_backends.remove(KAFKA_POSTGRES)
        result["kafka_skipped"] = skipped
        log(f"  Kafka burst skipped: {skipped}")
    for backend in burst_backends:
        log(f"  burst: {backend.name}")
        result["burst"][backend.name] = await _backend(backend, burst_of(cfg), log, kafka)
    try:
        log(f"  spread: {DAPR_JOBS}")
        result["backends"][DAPR_JOBS] = await _backend(MEMORY_POSTGRES, cfg, log, jobs=True)
    except NotRun as exc:
        result["not_run"] = {DAPR_JOBS: str(exc)}
        log(f"  {DAPR_JOBS}: not run: {exc}")
        return result
    builtin, dapr = result["backends"][MEMORY_POSTGRES.name], result["backends"][DAPR_JOBS]
    if builtin["delay"]["received"] and dapr["delay"]["received"]:
        result["ratio_received_dapr_jobs_over_builtin"] = {
            q: round(ratio(dapr["delay"]["received"][q], builtin["delay"]["received"][q]), 2)
            for q in ("p50_ms", "p95_ms", "p99_ms")
        }
    return result


runner = runner_of(run, render_reminders, FULL, QUICK)
