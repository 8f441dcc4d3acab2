"""`python -m bench.faults`: start the stack, load it while faults are
injected, check the invariants, write the report.

Environment: FAULTS_USERS (50), FAULTS_DURATION seconds (300), FAULTS=on|off
(on), FAULTS_WORK (a work dir; /tmp/todo-faults), FAULTS_KEEP_INFRA=1 (leave
PostgreSQL/Redis/Kafka running for the next run), ports FAULTS_PG_PORT,
FAULTS_REDIS_PORT, FAULTS_KAFKA_PORT, FAULTS_KAFKA_CONTROLLER_PORT,
FAULTS_SERVICE_PORT (first of six)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy.ext.asyncio import create_async_engine

from bench.faults import collect
from bench.faults.checker import Observations, check_all, received
from bench.faults.faults import Injector
from bench.faults.load import Api, Record, User
from bench.faults.report import markdown, svg, write
from bench.faults.stack import REPLICAS, Stack
from bench.faults.usage import Usage

RESULTS = Path(__file__).resolve().parents[1] / "results"


async def campaign(users: int, duration: float, faults: bool) -> int:
    stack = Stack(Path(os.environ.get("FAULTS_WORK", "/tmp/todo-faults")))  # noqa: S108
    print(f"starting the stack in {stack.work} …", file=sys.stderr)
    await stack.start()
    engine = create_async_engine(stack.database_url, pool_pre_ping=True)
    stop = asyncio.Event()
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=users * 2 + 10),
            timeout=aiohttp.ClientTimeout(total=30),
        ) as client:
            urls = {name: stack.url(name) for name in REPLICAS}
            record = Record()
            webhook = f"http://127.0.0.1:{stack.sink.webhook_port}/hook"
            people = [
                User(
                    n,
                    Api(urls, record, client),
                    record,
                    webhook,
                    duration,
                    stack.url("notification"),
                )
                for n in range(users)
            ]
            await asyncio.gather(*(p.sign_up() for p in people))
            probe_user = User(
                users,
                Api(urls, record, client),
                Record(),
                webhook,
                duration,
                stack.url("notification"),
            )
            await probe_user.sign_up()
            listeners = [asyncio.create_task(p.listen(list(urls.values()), stop)) for p in people]
            await asyncio.sleep(2)  # listeners subscribed before the first change
            record.t0 = time.monotonic()
            injector = Injector(stack, engine, record.t0, probe_user.token)
            print(
                f"load: {users} users for {duration:.0f} s, faults {'on' if faults else 'off'}",
                file=sys.stderr,
            )
            usage = Usage(stack.running)
            loaded = asyncio.Event()
            sampling = asyncio.create_task(usage.run(loaded))
            load = asyncio.gather(*(p.run() for p in people))
            await asyncio.gather(load, injector.run(duration, faults))
            elapsed = record.now()
            loaded.set()
            await sampling
            print("load done; waiting for the system to go quiet …", file=sys.stderr)
            await collect.quiesce(engine)
            stop.set()
            await asyncio.gather(*listeners)
        audit = await collect.audit_rows(engine)
        series_ids = {a.series_id for a in record.acks if a.recurring and a.series_id}
        due = [r for r in record.reminders if r.remind_at < elapsed]
        obs = Observations(
            acks=record.acks,
            audit=audit,
            series=await collect.series_tasks(engine, series_ids),
            reminders=due,
            deliveries=await collect.deliveries(engine, stack.sink, record.reminder_titles),
            sessions=record.sessions,
            ws_messages=record.ws_messages,
            responses=record.responses,
            faults=[o.window for o in injector.outcomes],
            dlq=await collect.dlq_entries(stack.kafka, stack.prefix),
            poisoned=injector.poisoned,
        )
        violations = check_all(obs)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
        plot = f"faults-{stamp}.svg"
        write(RESULTS / plot, svg(record.samples, injector.outcomes, elapsed))
        counts = {
            "acknowledged changes": len(record.acks),
            "audit rows": len(audit),
            "recurring series completed": len(series_ids),
            "reminders due during the run": len(due),
            "reminder deliveries captured": len(obs.deliveries),
            "resends the receivers dropped by idempotency key": len(obs.deliveries)
            - len(received(obs.deliveries)),
            "WebSocket sessions (incl. reconnections)": len(record.sessions),
            "WebSocket change messages": len(record.ws_messages),
            "WebSocket resyncs (could not resume)": record.resyncs,
            "WebSocket duplicates dropped by event id": record.ws_duplicates,
            "HTTP responses": len(record.responses),
            "5xx responses": sum(r.status >= 500 for r in record.responses),
            "connection retries": record.retries,
            "requests given up": record.gave_up,
            "poisoned events": len(injector.poisoned),
            "DLQ entries of this run": len(obs.dlq),
            **{f"failed operation, {cause}": n for cause, n in record.failures.most_common()},
        }
        text = markdown(
            title=f"Load and fault campaign, {stamp} UTC",
            settings={
                "users": str(users),
                "duration": f"{duration:.0f} s",
                "faults": "on" if faults else "off",
                "stack": "PostgreSQL, Redis, Kafka (one broker); two task-api replicas, "
                "recurring-task, notification, audit as separate processes",
                "machine": f"{os.cpu_count()} CPUs",
            },
            samples=record.samples,
            outcomes=injector.outcomes,
            log=injector.log,
            violations=violations,
            counts=counts,
            usage=usage.lines(),
            plot=plot,
            duration=elapsed,
        )
        out = RESULTS / f"faults-{stamp}.md"
        write(out, text)
        print(text)
        print(f"report: {out}", file=sys.stderr)
        return 1 if any(violations.values()) else 0
    finally:
        stop.set()
        await engine.dispose()
        await stack.stop(keep_infra=os.environ.get("FAULTS_KEEP_INFRA") == "1")


def main() -> None:
    users = int(os.environ.get("FAULTS_USERS", "50"))
    duration = float(os.environ.get("FAULTS_DURATION", "300"))
    faults = os.environ.get("FAULTS", "on").lower() not in ("off", "0", "false", "no")
    sys.exit(asyncio.run(campaign(users, duration, faults)))


if __name__ == "__main__":
    main()
