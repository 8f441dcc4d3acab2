"""The four services, each behind its own real daprd sidecar (self-hosted mode), on the
real Kafka broker and a PostgreSQL database of the test run, with Dapr's scheduler service
for the Jobs API.

DAPRD names the sidecar binary (`make test` sets it from `scripts/dapr.sh --print`),
DAPR_SCHEDULER the scheduler's (`scripts/dapr.sh scheduler --print`). The services fire
reminders as the `reminder_scheduler` fixture says (REMINDER_SCHEDULER; `builtin` unless a
test module overrides the fixture).
Each run writes its own components directory: the local stack's `pubsub-kafka` on the
test broker, with consumer groups of its own (`<run>-<app id>`). Before the sidecars
start, those groups get the topics' end offsets committed, so records other runs left on
the shared topics are not replayed; the component then starts a group at the oldest
offset, so nothing this run publishes is skipped while the groups form.

A test module that overrides the `secret_store` fixture gets the local stack's secret store
too (`secrets-local.yaml`, on a JSON file of the run): the services then read those secrets
through their sidecars (DAPR_SECRET_STORE) instead of from the environment.
"""

import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from bench.dapr_latency import daprd_command, pubsub_component, redis_host, state_store_component
from events.topics import Topic
from tests.e2e.processes import SERVICES, Cluster, Processes, service_env
from tests.integration.test_acceptance import Inbox
from testsupport.dapr_scheduler import DaprScheduler, scheduler_binary
from testsupport.kafka import start_group_at_the_end
from testsupport.ports import free_port

LOCAL_SECRET_STORE = Path(__file__).parents[3] / "dapr" / "components" / "secrets-local.yaml"
SECRET_NAME = "todo-app"
# The store's keys, and the variables of the environment that stand for them.
STORE_VARIABLES = {
    "openai-api-key": "OPENAI_API_KEY",
    "smtp-url": "SMTP_URL",
    "jwt-private.pem": "JWT_PRIVATE_KEY_FILE",
    "vapid-private.pem": "VAPID_PRIVATE_KEY_FILE",
}

APP_IDS = {
    "task-api": "task-api",
    "recurring-task": "recurring-task-service",
    "notification": "notification-service",
    "audit": "audit-service",
}


def daprd_binary() -> str:
    path = os.environ.get("DAPRD", "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            f"DAPRD={path!r} is not an executable daprd: `make test` sets it "
            "(or run with DAPRD=$(scripts/dapr.sh --print))"
        )
    return path


def dapr_scheduler_binary() -> str:
    path = scheduler_binary()
    if path is None:
        pytest.fail(
            f"DAPR_SCHEDULER={os.environ.get('DAPR_SCHEDULER', '')!r} is not an executable "
            "Dapr scheduler: `make test` sets it (or run with "
            "DAPR_SCHEDULER=$(scripts/dapr.sh scheduler --print))"
        )
    return path


@dataclass
class Sidecars(Processes):
    """One daprd per service, logging to `<logs>/<service>.daprd.log`."""

    daprd: str = ""
    resources: Path = Path()
    apps: dict[str, int] = field(default_factory=dict)
    http: dict[str, int] = field(default_factory=dict)
    grpc: dict[str, int] = field(default_factory=dict)
    scheduler: str | None = None  # host:port of Dapr's scheduler service
    app_ids: dict[str, str] = field(default_factory=dict)  # else the service's (APP_IDS)

    def start(self, service: str) -> None:
        self.http.setdefault(service, free_port())
        self.grpc.setdefault(service, free_port())
        self.spawn(
            f"{service}.daprd",
            daprd_command(
                self.daprd,
                app_id=self.app_ids.get(service) or APP_IDS[service],
                app_port=self.apps[service],
                http_port=self.http[service],
                grpc_port=self.grpc[service],
                resources=self.resources,
                scheduler=self.scheduler,
            ),
        )

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.http[service]}"

    async def ready(self, service: str, timeout: float = 60) -> None:
        await self.wait_http(f"{service}.daprd", f"{self.url(service)}/v1.0/healthz", 204, timeout)

    def log(self, service: str) -> str:
        return (self.logs / f"{service}.daprd.log").read_text(errors="replace")


def redis_state_store_component() -> str:
    """The local stack's state store (the assistant's conversation state) on the Redis of
    the test run."""
    host = redis_host()
    if host is None:
        pytest.fail("TEST_REDIS_URL is not set: `make test` starts Redis")
    return state_store_component(host)


def secret_store_component(secrets_file: Path) -> str:
    """The local stack's secret store (dapr/components/secrets-local.yaml) on `secrets_file`."""
    component = yaml.safe_load(LOCAL_SECRET_STORE.read_text())
    for item in component["spec"]["metadata"]:
        if item["name"] == "secretsFile":
            item["value"] = str(secrets_file)
    return str(yaml.safe_dump(component, sort_keys=False))


def write_secret_store(
    resources: Path, secrets: dict[str, str], others: dict[str, dict[str, str]] | None = None
) -> str:
    """The secret store component in `resources`, its secret `SECRET_NAME` holding
    `secrets` (and the secrets `others`); the store's name (DAPR_SECRET_STORE)."""
    secrets_file = resources.parent / "secrets.json"
    secrets_file.write_text(json.dumps({SECRET_NAME: secrets, **(others or {})}))
    (resources / "secrets-local.yaml").write_text(secret_store_component(secrets_file))
    return str(yaml.safe_load(LOCAL_SECRET_STORE.read_text())["metadata"]["name"])


@dataclass
class DaprCluster:
    apps: Cluster
    sidecars: Sidecars
    database_url: str
    kafka: str
    scheduler: DaprScheduler


@pytest.fixture
def reminder_scheduler() -> str:
    """REMINDER_SCHEDULER for the services of `dapr_cluster`."""
    return "builtin"


@pytest.fixture
def secret_store() -> dict[str, str] | None:
    """The secrets the services read from a Dapr secret store; None: no store, the
    secrets come from the environment."""
    return None


@pytest.fixture
def cluster_env() -> dict[str, str]:
    """More environment for every service of `dapr_cluster`."""
    return {}


@pytest.fixture
def cluster_components() -> dict[str, str]:
    """More component files for the sidecars of `dapr_cluster`: file name, YAML."""
    return {}


@pytest.fixture
async def dapr_cluster(
    fresh_postgres: str,
    kafka: str,
    key_file: Path,
    tmp_path: Path,
    smtp: tuple[Inbox, int],
    reminder_scheduler: str,
    secret_store: dict[str, str] | None,
    cluster_env: dict[str, str],
    cluster_components: dict[str, str],
) -> AsyncIterator[DaprCluster]:
    daprd = daprd_binary()
    scheduler = DaprScheduler(dapr_scheduler_binary(), tmp_path)
    resources = tmp_path / "components"
    resources.mkdir()
    run = f"e2e-dapr-{uuid.uuid4().hex[:8]}"
    (resources / "pubsub-kafka.yaml").write_text(pubsub_component(kafka, run + "-{appID}"))
    for file_name, component in cluster_components.items():
        (resources / file_name).write_text(component)
    for app_id in APP_IDS.values():
        await start_group_at_the_end(kafka, f"{run}-{app_id}", [str(t) for t in Topic])
    logs = tmp_path / "logs"
    logs.mkdir()
    ports = {s: free_port() for s in SERVICES}
    sidecars = Sidecars(
        logs,
        daprd=daprd,
        resources=resources,
        apps=ports,
        http={s: free_port() for s in SERVICES},
        grpc={s: free_port() for s in SERVICES},
        scheduler=scheduler.address,
    )
    env = service_env(
        {
            **os.environ,
            "EVENT_BUS": "dapr",
            "DAPR_PUBSUB_NAME": "pubsub-kafka",
            "REMINDER_SCHEDULER": reminder_scheduler,
        },
        database_url=fresh_postgres,
        key_file=key_file,
        data_dir=tmp_path,
        smtp_port=smtp[1],
    )
    env.update(cluster_env)
    if secret_store is not None:
        env["DAPR_SECRET_STORE"] = write_secret_store(resources, secret_store)
        env["DAPR_SECRET_NAME"] = SECRET_NAME
        for key in secret_store:  # each secret has one source
            env.pop(STORE_VARIABLES[key], None)
    apps = Cluster(
        logs,
        env=env,
        ports=ports,
        # The services publish through the Dapr SDK over gRPC, as in the cluster.
        service_env={
            s: {"DAPR_HTTP_PORT": str(sidecars.http[s]), "DAPR_GRPC_PORT": str(sidecars.grpc[s])}
            for s in SERVICES
        },
    )
    try:
        # First: a sidecar told of a scheduler is not healthy until it reaches it.
        scheduler.start()
        await scheduler.ready()
        for service in SERVICES:
            apps.start(service)
            sidecars.start(service)
        for service in SERVICES:
            await sidecars.ready(service)
        for service in SERVICES:
            await apps.ready(service)
        yield DaprCluster(apps, sidecars, fresh_postgres, kafka, scheduler)
    finally:
        sidecars.stop_all()
        apps.stop_all()
        scheduler.stop()
