"""task-api as several worker processes on one port (`todo serve --workers 2`), on
the real PostgreSQL, Kafka and Redis: the live feed, the counters and a pending
chat question span the workers, and a worker that dies is replaced."""

import asyncio
import json
import os
import re
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from services.bootstrap import bootstrap
from services.composition import process_of
from tests.e2e.processes import TODO, Processes, poll, service_env, sign_up
from tests.integration.assistant.conftest import Reply, parse_sse
from testsupport.kafka import start_groups_at_the_end
from testsupport.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2


class Served(Processes):
    url: str = ""
    port: int = 0

    def workers(self) -> set[int]:
        """The pids of the supervisor's worker processes."""
        supervisor = self.procs["task-api"].pid
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == supervisor and b"spawn_main" in command:
                found.add(int(entry.name))
        return found


@pytest.fixture
async def served(
    fresh_postgres: str, kafka: str, key_file: Path, tmp_path: Path
) -> AsyncIterator[Served]:
    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set: `make test` starts Redis")
    prefix = f"e2ew-{uuid.uuid4().hex[:8]}-"
    probe = bootstrap(
        database_url=fresh_postgres,
        event_bus="kafka",
        kafka_bootstrap_servers=kafka,
        kafka_group_prefix=prefix,
        jwt_private_key_file=key_file,
        data_dir=tmp_path,
    )
    await start_groups_at_the_end(kafka, process_of(probe, "task-api").subscriptions, prefix=prefix)
    await probe.aclose()
    env = service_env(
        {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "EVENT_BUS": "kafka",
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "KAFKA_GROUP_PREFIX": prefix,
            "REDIS_URL": redis_url,
        },
        database_url=fresh_postgres,
        key_file=key_file,
        data_dir=tmp_path,
        smtp_port=free_port(),
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Served(logs)
    running.port = free_port()
    running.url = f"http://127.0.0.1:{running.port}"
    argv = [TODO, "serve", "--service", "task-api", "--port", str(running.port)]
    running.spawn("task-api", [*argv, "--workers", str(WORKERS)], env)
    try:
        await running.wait_http("task-api", f"{running.url}/readyz", 200)
        await poll(lambda: asyncio.sleep(0, result=len(running.workers()) == WORKERS))
        yield running
    finally:
        running.stop_all()


def _counted(metrics: str, route: str, status: str) -> float:
    pattern = re.compile(
        r'^todo_http_requests_total\{method="POST",route="'
        + re.escape(route)
        + r'",status="'
        + status
        + r'"\} (\S+)$',
        re.MULTILINE,
    )
    return sum(float(value) for value in pattern.findall(metrics))


@pytest.mark.timeout(180)
async def test_changes_through_any_worker_reach_every_socket_and_every_count(
    served: Served,
) -> None:
    creates = 40
    async with httpx.AsyncClient(timeout=30) as client:
        _, me = await sign_up(client, served.url, "workers")
        token = me["Authorization"].removeprefix("Bearer ")
        ws_url = served.url.replace("http", "ws", 1)
        async with websockets.connect(f"{ws_url}/ws?token={token}") as socket:
            made = await asyncio.gather(
                *(
                    client.post(f"{served.url}/api/tasks", headers=me, json={"title": f"Task {n}"})
                    for n in range(creates)
                )
            )
            assert [r.status_code for r in made] == [201] * creates, made[0].text
            ids = {r.json()["id"] for r in made}
            seen: set[str] = set()
            while seen != ids:
                message = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if message["type"] == "task.created":
                    seen.add(message["data"]["task"]["id"])
        # Whichever worker answers /metrics counts the requests of both.
        for _ in range(4):
            metrics = (await client.get(f"{served.url}/metrics")).text
            assert _counted(metrics, "/api/tasks", "201") == creates


async def _say(
    client: httpx.AsyncClient, url: str, me: dict[str, str], message: str, conversation: str = ""
) -> Reply:
    body: dict[str, Any] = {"message": message}
    if conversation:
        body["conversation_id"] = conversation
    response = await client.post(f"{url}/api/chat", headers=me, json=body)
    assert response.status_code == 200, response.text
    return Reply(response.status_code, parse_sse(response.text))


@pytest.mark.timeout(180)
async def test_a_dead_worker_is_replaced_and_a_question_outlives_its_process(
    served: Served,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        _, me = await sign_up(client, served.url, "workers")
        made = await client.post(
            f"{served.url}/api/tasks", headers=me, json={"title": "Old report"}
        )
        assert made.status_code == 201, made.text
        asked = await _say(client, served.url, me, "delete the old report")
        assert asked.names[-2:] == ["confirm", "done"], asked.events
        # Every worker that could have heard the question dies; new ones answer it.
        before = served.workers()
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        await poll(
            lambda: asyncio.sleep(
                0, result=len(after := served.workers()) == WORKERS and not after & before
            )
        )
        await served.wait_http("task-api", f"{served.url}/readyz", 200)
        answered = await _say(client, served.url, me, "yes", asked.conversation_id)
        assert answered.text == "Deleted “Old report”.", answered.events
        listed = await client.get(f"{served.url}/api/tasks", headers=me)
        assert listed.json()["items"] == []


def test_workers_need_what_they_share(tmp_path: Path) -> None:
    import subprocess

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "EVENT_BUS", "REDIS_URL", "WORKERS")
    }
    env |= {"DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}

    def serve(*argv: str, **more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command
            [TODO, "serve", "--port", str(free_port()), *argv],
            env={**env, **more},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    embedded = serve("--workers", "2")
    assert embedded.returncode == 2, embedded.stderr
    assert "the embedded process (`todo serve`) is one process" in embedded.stderr
    other = serve("--service", "audit", "--workers", "3")
    assert other.returncode == 2
    assert "run more replicas of audit instead" in other.stderr
    alone = serve("--service", "task-api", WORKERS="2")
    assert alone.returncode == 2
    for needed in ("DATABASE_URL of a PostgreSQL server", "EVENT_BUS=kafka or dapr", "REDIS_URL"):
        assert needed in alone.stderr
    kafka = serve(
        "--service",
        "task-api",
        "--workers",
        "2",
        DATABASE_URL="postgresql+asyncpg://u:p@127.0.0.1:1/db",
        EVENT_BUS="kafka",
    )
    assert kafka.returncode == 2
    assert "set REDIS_URL" in kafka.stderr
    assert "EVENT_BUS" not in kafka.stderr.split("set ", 1)[1]
