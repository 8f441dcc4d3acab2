"""The four services, each behind its own real daprd sidecar (self-hosted mode), on the
real Kafka broker and a PostgreSQL database of the test run.

DAPRD names the sidecar binary (`make test` sets it from `scripts/dapr.sh --print`).
Each run gets its own components directory with consumer groups of its own that start at
the newest offset, so records other runs left (or publish meanwhile) on the shared topics
are not replayed; events of theirs that do arrive name users this database does not know.
"""

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_four_processes import SERVICES, Cluster, free_port, poll
from tests.integration.test_acceptance import Inbox

APP_IDS = {
    "task-api": "task-api",
    "recurring-task": "recurring-task-service",
    "notification": "notification-service",
    "audit": "audit-service",
}

PUBSUB = """\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub-kafka
spec:
  type: pubsub.kafka
  version: v1
  metadata:
    - name: brokers
      value: "{brokers}"
    - name: authType
      value: "none"
    - name: disableTls
      value: "true"
    - name: consumerGroup
      value: "{group}-{{appID}}"
    - name: clientID
      value: "{group}-{{appID}}"
    - name: initialOffset
      value: "newest"
    - name: consumeRetryInterval
      value: "200ms"
"""


def daprd_binary() -> str:
    path = os.environ.get("DAPRD", "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            f"DAPRD={path!r} is not an executable daprd: `make test` sets it "
            "(or run with DAPRD=$(scripts/dapr.sh --print))"
        )
    return path


class Sidecars:
    def __init__(self, daprd: str, resources: Path, logs: Path, apps: dict[str, int]) -> None:
        self.daprd = daprd
        self.resources = resources
        self.logs = logs
        self.apps = apps
        self.http = {s: free_port() for s in SERVICES}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, service: str) -> None:
        with (self.logs / f"{service}.daprd.log").open("ab") as log:
            self.procs[service] = subprocess.Popen(  # noqa: S603 - our own command
                [
                    self.daprd,
                    "--mode", "standalone",
                    "--app-id", APP_IDS[service],
                    "--app-port", str(self.apps[service]),
                    "--app-protocol", "http",
                    "--dapr-http-port", str(self.http[service]),
                    "--dapr-grpc-port", str(free_port()),
                    "--dapr-internal-grpc-port", str(free_port()),
                    "--metrics-port", str(free_port()),
                    "--resources-path", str(self.resources),
                    "--placement-host-address", "",
                    "--log-level", "info",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, service: str, timeout: float = 60) -> None:
        url = f"http://127.0.0.1:{self.http[service]}/v1.0/healthz"
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient() as client:
            while True:
                if self.procs[service].poll() is not None:
                    raise AssertionError(f"daprd of {service} exited: {self.tail(service)}")
                try:
                    if (await client.get(url)).status_code == 204:
                        return
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"daprd of {service} not ready: {self.tail(service)}")
                await asyncio.sleep(0.2)

    def tail(self, service: str) -> str:
        return (self.logs / f"{service}.daprd.log").read_text()[-3000:]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def smtp_server() -> Any:
    from aiosmtpd.controller import Controller

    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def dapr_cluster(
    fresh_postgres: str, kafka: str, key_file: Path, tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> AsyncIterator[tuple[Cluster, Sidecars]]:
    daprd = daprd_binary()
    resources = tmp_path / "components"
    resources.mkdir()
    group = f"e2e-dapr-{uuid.uuid4().hex[:8]}"
    (resources / "pubsub-kafka.yaml").write_text(PUBSUB.format(brokers=kafka, group=group))
    logs = tmp_path / "logs"
    logs.mkdir()
    apps = {s: free_port() for s in SERVICES}
    sidecars = Sidecars(daprd, resources, logs, apps)
    base_env = {
        **os.environ,
        "DATABASE_URL": fresh_postgres,
        "EVENT_BUS": "dapr",
        "DAPR_PUBSUB_NAME": "pubsub-kafka",
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        "DATA_DIR": str(tmp_path),
        "LOCAL_USER": "false",
        "RELAY_POLL_SECONDS": "0.2",
        "DEFAULT_TIMEZONE": "UTC",
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_server[1]}",
    }
    clusters = {
        s: Cluster({**base_env, "DAPR_HTTP_PORT": str(sidecars.http[s])}, apps, logs)
        for s in SERVICES
    }
    cluster = Cluster(base_env, apps, logs)
    try:
        for service in SERVICES:
            clusters[service].start(service)
            cluster.procs[service] = clusters[service].procs[service]
            sidecars.start(service)
        for service in SERVICES:
            await sidecars.ready(service)
        for service in SERVICES:
            await cluster.ready(service)
        yield cluster, sidecars
    finally:
        sidecars.stop_all()
        cluster.stop_all()


@pytest.mark.timeout(180)
async def test_recurring_task_and_reminder_through_daprd(
    dapr_cluster: tuple[Cluster, Sidecars], smtp_server: tuple[Inbox, int]
) -> None:
    cluster, _ = dapr_cluster
    inbox, _ = smtp_server
    api, notes_url, audit_url = (
        cluster.url("task-api"),
        cluster.url("notification"),
        cluster.url("audit"),
    )
    async with httpx.AsyncClient(timeout=30) as client:
        email = f"dapr-{uuid.uuid4().hex[:6]}@example.com"
        registered = await client.post(
            f"{api}/api/auth/register", json={"email": email, "password": "pw-12345678"}
        )
        assert registered.status_code == 201, registered.text
        token = (
            await client.post(
                f"{api}/api/auth/login", json={"email": email, "password": "pw-12345678"}
            )
        ).json()["access_token"]
        me = {"Authorization": f"Bearer {token}"}
        prefs = await client.put(
            f"{notes_url}/api/notifications/preferences",
            headers=me,
            json={"in_app": True, "email": True, "email_address": email},
        )
        assert prefs.status_code == 200, prefs.text

        async def active(q: str) -> list[Any]:
            page = (
                await client.get(
                    f"{api}/api/tasks", headers=me, params={"status": "active", "q": q}
                )
            ).json()
            return list(page["items"])

        async def notes() -> list[Any]:
            page = (await client.get(f"{notes_url}/api/notifications", headers=me)).json()
            return list(page["items"])

        created = await client.post(
            f"{api}/api/tasks",
            headers=me,
            json={
                "title": "Standup",
                "due_at": "2030-03-08T09:00:00",
                "timezone": "America/New_York",
                "recurrence_rule": "FREQ=DAILY",
            },
        )
        assert created.status_code == 201, created.text
        first = created.json()
        done = await client.post(f"{api}/api/tasks/{first['id']}/complete", headers=me)
        assert done.status_code == 200, done.text
        [nxt] = await poll(lambda: active("standup"))
        assert nxt["due_at"] == "2030-03-09T09:00:00-05:00"

        async def trail() -> list[str]:
            page = (
                await client.get(
                    f"{audit_url}/api/audit", headers=me, params={"resource_id": first["id"]}
                )
            ).json()
            types = [e["event_type"] for e in page["items"]]
            return types if "task.completed" in types else []

        types = await poll(trail)
        assert "task.created" in types

        remind_at = datetime.now(UTC) + timedelta(seconds=3)
        reminded = await client.post(
            f"{api}/api/tasks",
            headers=me,
            json={"title": "Call the bank", "remind_at": remind_at.isoformat()},
        )
        assert reminded.status_code == 201, reminded.text
        [note] = await poll(notes)
        assert note["title"] == "Call the bank"
        await poll(lambda: asyncio.sleep(0, result=len(inbox.messages) == 1))
        assert email in inbox.messages[0]["To"]
