"""Which parts each process runs: `todo serve --service NAME`.

`all` is the embedded single process: every consumer, worker and route.
"""

from dataclasses import dataclass, field

from fastapi import APIRouter

from events.bus import Subscription
from services.bootstrap import Container, Worker

SERVICE_NAMES = ("all", "task-api", "recurring-task", "notification", "audit")


@dataclass
class Process:
    subscriptions: list[Subscription] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    routers: list[APIRouter] = field(default_factory=list)


def compose(service: str, container: Container) -> Process:
    if service not in SERVICE_NAMES:
        raise ValueError(f"unknown service {service!r}: one of {', '.join(SERVICE_NAMES)}")
    wanted = SERVICE_NAMES[1:] if service == "all" else (service,)
    process = Process()
    for name in wanted:
        _PARTS[name](container, process)
    return process


def process_of(container: Container, service: str | None = None) -> Process:
    """What `service` (default: the container's own) runs, composed anew."""
    return compose(service or container.settings.service_name, container)


async def start_process(container: Container, service: str | None = None) -> Process:
    """Start `container` with what `service` runs, as the app's lifespan does."""
    process = process_of(container, service)
    await container.start(process.subscriptions, process.workers)
    return process


def _task_api(container: Container, process: Process) -> None:
    from services.shared.auth import routes as auth
    from services.tasks.api import event_schemas, tasks, ws
    from services.tasks.consumers import occurrence_subscription
    from services.tasks.realtime import realtime_subscriptions

    process.subscriptions += [
        *realtime_subscriptions(
            container.realtime.fanout, every_process=container.realtime.every_process
        ),
        occurrence_subscription(container.uow),
    ]
    from assistant.api import router as chat
    from services.portability.api import router as portability

    process.routers += [
        tasks.router,  # first: the routes matched most often
        auth.router,
        ws.router,
        event_schemas.router,
        portability,
        chat,
    ]


def _recurring(container: Container, process: Process) -> None:
    from events.topics import Topic
    from services.recurring.occurrences import OccurrenceHandler
    from services.recurring.reminders import JobReminders, ScheduleHandler

    if container.settings.reminder_scheduler == "dapr-jobs":
        container.settings.reminder_jobs_port()  # stops the start without a sidecar port
    if container.reminder_jobs is None:  # REMINDER_SCHEDULER=builtin
        scheduler = container.reminders
        reminders = ScheduleHandler(container.uow, scheduler.notify)
        process.workers.append(scheduler)
    else:  # dapr-jobs: the scheduler calls back `POST /job/<name>`
        jobs = JobReminders(container.reminder_jobs, container.uow)
        reminders = ScheduleHandler(container.uow, lambda: None, synced=jobs.sync)
        process.routers.append(container.reminder_jobs.router(jobs.trigger))
        process.workers.append(jobs)  # schedules the jobs of reminders pending at start
    process.subscriptions += [
        Subscription(
            Topic.TASK_EVENTS, "recurring-task-occurrences", OccurrenceHandler(container.uow)
        ),
        Subscription(Topic.TASK_EVENTS, "recurring-task-reminders", reminders),
    ]


def _notification(container: Container, process: Process) -> None:
    from events.topics import Topic
    from services.notification.api import push_router, router
    from services.notification.delivery import AccountCleanup, ReminderDelivery

    process.subscriptions += [
        Subscription(
            Topic.REMINDER_EVENTS,
            "notification",
            ReminderDelivery(
                container.uow,
                container.smtp,
                reading=container.reading,
                allow_private_webhooks=container.settings.webhook_allow_private,
                push=container.push,
            ),
        ),
        Subscription(Topic.TASK_EVENTS, "notification", AccountCleanup(container.uow)),
    ]
    process.routers += [router, push_router(container.push)]


def _audit(container: Container, process: Process) -> None:
    from services.audit.api import router
    from services.audit.trail import AuditRecorder

    process.subscriptions += AuditRecorder(container.engine).subscriptions()
    process.routers.append(router)


_PARTS = {
    "task-api": _task_api,
    "recurring-task": _recurring,
    "notification": _notification,
    "audit": _audit,
}
