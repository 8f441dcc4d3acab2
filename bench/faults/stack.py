"""The distributed stack of the campaign, on this machine: its own
PostgreSQL, Redis and Kafka broker (scripts/test-services.sh on ports and a
state dir of its own), two task-api replicas and the three consumer services
as separate `todo serve` processes, plus the SMTP and webhook sinks that
capture reminder deliveries."""

from __future__ import annotations

import asyncio
import email
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from testsupport.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES_SCRIPT = ROOT / "scripts" / "test-services.sh"
KAFKA_SCRIPT = ROOT / "scripts" / "kafka.sh"
TODO = str(Path(sys.executable).parent / "todo")
REPLICAS = ("task-api-1", "task-api-2")
CONSUMERS = ("recurring-task", "notification", "audit")
TABLES = (
    "chat_turns, conversation_messages, conversations, calendar_feeds, audit_logs, "
    "notification_preferences, notifications, reminder_schedule, processed_events, outbox, "
    "outbox_pending, login_links, personal_access_tokens, tasks, users"
)


@dataclass
class Ports:
    # Below Linux's ephemeral range (32768-60999): a port in it can be held for
    # a moment by any process's outgoing connection just when a server restarts.
    postgres: int = int(os.environ.get("FAULTS_PG_PORT", "27432"))
    redis: int = int(os.environ.get("FAULTS_REDIS_PORT", "27379"))
    kafka: int = int(os.environ.get("FAULTS_KAFKA_PORT", "27092"))
    kafka_controller: int = int(os.environ.get("FAULTS_KAFKA_CONTROLLER_PORT", "27093"))
    first_service: int = int(os.environ.get("FAULTS_SERVICE_PORT", "28100"))


class Sink:
    """SMTP and webhook receivers: what each reminder channel delivered."""

    def __init__(self) -> None:
        self.emails: list[tuple[str, str | None]] = []  # (subject + body text, Message-ID)
        self.webhooks: list[dict[str, Any]] = []
        self._server: asyncio.Server | None = None
        self._smtp: Any = None
        self.smtp_port = 0
        self.webhook_port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        parts = [str(message.get("Subject", ""))]
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode("utf-8", "replace"))
        message_id = message.get("Message-ID")
        self.emails.append(("\n".join(parts), None if message_id is None else str(message_id)))
        return "250 OK"

    async def _http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await reader.readexactly(length)
            try:
                self.webhooks.append(json.loads(body))
            except ValueError:
                self.webhooks.append({"raw": body.decode("utf-8", "replace")})
            writer.write(
                b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._server = await asyncio.start_server(self._http, "127.0.0.1", 0)
        self.webhook_port = self._server.sockets[0].getsockname()[1]
        self.smtp_port = free_port()
        self._smtp = Controller(self, hostname="127.0.0.1", port=self.smtp_port)
        self._smtp.start()

    async def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@dataclass
class Stack:
    work: Path
    ports: Ports = field(default_factory=Ports)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"faults-{uuid.uuid4().hex[:8]}-")
    env: dict[str, str] = field(default_factory=dict)
    sink: Sink = field(default_factory=Sink)
    _infra_pids: dict[str, int] = field(default_factory=dict)

    # --- infrastructure --------------------------------------------------------
    @property
    def infra_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TODO_TEST_STATE": str(self.work / "state"),
            "TEST_PG_PORT": str(self.ports.postgres),
            "TEST_REDIS_PORT": str(self.ports.redis),
            "TEST_KAFKA_PORT": str(self.ports.kafka),
            "TEST_KAFKA_CONTROLLER_PORT": str(self.ports.kafka_controller),
        }

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://todo:todo@127.0.0.1:{self.ports.postgres}/todo_test"

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.ports.kafka}"

    def script(self, *args: str | Path) -> None:
        subprocess.run([str(a) for a in args], env=self.infra_env, check=True)  # noqa: S603

    def start_infra(self) -> None:
        self.fresh_broker()
        self.script(SERVICES_SCRIPT, "start", "--kafka")

    def fresh_broker(self) -> None:
        """A campaign starts from an empty broker, as it starts from an emptied
        database. Each run names its groups anew, so the topics and the offsets
        of earlier runs would pile up (gigabytes after a few dozen runs), and the
        broker the campaign restarts would reload all of it, which stretches its
        recovery, and the window in which its group coordinators load, run by run."""
        try:
            self.broker_pid()
        except subprocess.CalledProcessError:
            shutil.rmtree(self.work / "state" / "kafka" / "data", ignore_errors=True)

    def stop_infra(self) -> None:
        self.script(SERVICES_SCRIPT, "stop", "--kafka")

    def broker_pid(self) -> int:
        out = subprocess.run(  # noqa: S603
            [str(KAFKA_SCRIPT), "pid"], env=self.infra_env, check=True, capture_output=True
        )
        return int(out.stdout.split()[0])

    def postgres_pid(self) -> int:
        pidfile = self.work / "state" / "postgres" / "data" / "postmaster.pid"
        return int(pidfile.read_text().split()[0])

    def redis_pid(self) -> int:
        return int((self.work / "state" / "redis" / "redis.pid").read_text().split()[0])

    def running(self) -> dict[str, int]:
        """The pid of each process of the stack that runs now, by name."""
        found = {name: proc.pid for name, proc in self.procs.items() if proc.poll() is None}
        for name, pid_of in (
            ("PostgreSQL", self.postgres_pid),
            ("Kafka broker", self.broker_pid),
            ("Redis", self.redis_pid),
        ):
            known = self._infra_pids.get(name)
            if known is not None and Path(f"/proc/{known}").exists():
                found[name] = known
                continue
            try:
                found[name] = self._infra_pids[name] = pid_of()
            except (OSError, ValueError, IndexError, subprocess.CalledProcessError):
                continue  # stopped by a fault just now
        return found

    def kill_broker(self) -> None:
        self.script(KAFKA_SCRIPT, "kill")

    def start_broker(self) -> None:
        self.script(KAFKA_SCRIPT, "start")

    def pause_broker(self) -> None:
        os.kill(self.broker_pid(), signal.SIGSTOP)

    def resume_broker(self) -> None:
        os.kill(self.broker_pid(), signal.SIGCONT)

    def stop_postgres(self) -> None:
        pid = self.postgres_pid()
        os.kill(pid, signal.SIGINT)  # fast shutdown: sessions are cut, like a restart
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)

    def start_postgres(self) -> None:
        self.script(SERVICES_SCRIPT, "start")  # starts what is not running

    async def reset_database(self) -> None:
        await asyncio.to_thread(
            subprocess.run,
            [TODO, "db", "upgrade"],
            env={**os.environ, "DATABASE_URL": self.database_url},
            check=True,
        )
        engine = create_async_engine(self.database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()

    async def start_groups_at_the_end(self) -> None:
        """This run's consumer groups start at the topics' ends, so earlier
        runs' events on the same broker are not replayed into a clean database."""
        from services.bootstrap import bootstrap
        from services.composition import process_of
        from testsupport.kafka import start_groups_at_the_end

        probe = bootstrap(
            database_url=self.database_url,
            event_bus="kafka",
            kafka_bootstrap_servers=self.kafka,
            kafka_group_prefix=self.prefix,
            jwt_private_key_file=self.work / "jwt.pem",
            data_dir=self.work,
        )
        try:
            subscriptions = list(process_of(probe).subscriptions)
        finally:
            await probe.aclose()
        await start_groups_at_the_end(self.kafka, subscriptions, prefix=self.prefix)

    # --- services ---------------------------------------------------------------
    def port(self, name: str) -> int:
        return self.ports.first_service + [*REPLICAS, *CONSUMERS].index(name)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port(name)}"

    def service_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "EVENT_BUS": "kafka",
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            "KAFKA_GROUP_PREFIX": self.prefix,
            "REDIS_URL": f"redis://127.0.0.1:{self.ports.redis}/0",
            "JWT_PRIVATE_KEY_FILE": str(self.work / "jwt.pem"),
            "DATA_DIR": str(self.work),
            "LOCAL_USER": "false",
            "RELAY_POLL_SECONDS": "0.2",
            "DEFAULT_TIMEZONE": "UTC",
            "SMTP_URL": f"smtp://127.0.0.1:{self.sink.smtp_port}",
            "WEBHOOK_ALLOW_PRIVATE": "true",  # the webhook sink listens on loopback
            "RATE_LIMIT_PER_USER_PER_SECOND": "100000",
            "RATE_LIMIT_AUTH_PER_MINUTE": "100000",  # every load user signs up from loopback
            "LOG_LEVEL": os.environ.get("FAULTS_LOG_LEVEL", "WARNING"),
        }

    def start_service(self, name: str) -> None:
        service = "task-api" if name in REPLICAS else name
        logs = self.work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(  # noqa: S603 - our own command
                [TODO, "serve", "--service", service, "--port", str(self.port(name))],
                env=self.service_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill_service(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    async def ready(self, name: str, limit: float = 90) -> float:
        """Wait until the service answers /readyz; return when it did."""
        deadline = time.monotonic() + limit
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                proc = self.procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited; see {self.work}/logs/{name}.log")
                try:
                    if (await client.get(f"{self.url(name)}/readyz")).status_code == 200:
                        return time.monotonic()
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready; see {self.work}/logs/{name}.log")
                await asyncio.sleep(0.2)

    async def all_ready(self, limit: float = 120) -> float:
        done = await asyncio.gather(*(self.ready(n, limit) for n in self.procs))
        return max(done)

    async def start(self) -> None:
        from services.shared.auth.keys import load_or_create_private_key

        self.work.mkdir(parents=True, exist_ok=True)
        load_or_create_private_key(self.work / "jwt.pem")
        await self.sink.start()
        self.start_infra()
        await self.reset_database()
        await self.start_groups_at_the_end()
        for name in (*REPLICAS, *CONSUMERS):
            self.start_service(name)
        await self.all_ready()

    async def stop(self, keep_infra: bool = False) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        await self.sink.stop()
        if not keep_infra:
            self.stop_infra()
