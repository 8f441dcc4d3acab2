"""The whole system under `docker compose`: the four services in their image, each
behind its own daprd container, on Kafka, PostgreSQL and Redis in containers, reached
through the published loopback port only. A service container that crashes is
brought back by its restart policy, and nothing is lost or done twice."""

import socket
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.containers.conftest import COMPOSE_SH, Stack, engine_ready, run, stack_env
from tests.e2e.processes import items, poll, sign_up
from tests.e2e.scenarios import Apis, pay_rent_every_month, trail
from testsupport.ports import free_port

pytestmark = pytest.mark.timeout(600)


async def test_the_acceptance_flow_through_the_published_port(stack: Stack) -> None:
    url = stack.url
    apis = Apis(url, url, url)
    async with httpx.AsyncClient(timeout=30) as client:
        page = await client.get(f"{url}/")
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        _, me = await sign_up(client, url, "compose", notes_url=url)
        await pay_rent_every_month(client, apis, me)


async def test_a_crashed_service_comes_back_and_nothing_is_lost_or_doubled(stack: Stack) -> None:
    url = stack.url
    apis = Apis(url, url, url)
    async with httpx.AsyncClient(timeout=30) as client:
        _, me = await sign_up(client, url, "crash", notes_url=url)

        async def active(q: str) -> list[Any]:
            return await items(client, f"{url}/api/tasks", me, status="active", q=q)

        series = []
        for n in range(3):
            made = await client.post(
                f"{url}/api/tasks",
                headers=me,
                json={
                    "title": f"Series {n}",
                    "due_at": "2031-05-01T08:00:00",
                    "recurrence_rule": "FREQ=WEEKLY",
                },
            )
            assert made.status_code == 201, made.text
            series.append(made.json())

        # recurring-task crashes while tasks are completed and reminders come due.
        restarts = stack.crash("recurring-task")
        for task in series:
            done = await client.post(f"{url}/api/tasks/{task['id']}/complete", headers=me)
            assert done.status_code == 200, done.text
        due = datetime.now(UTC) + timedelta(seconds=2)
        for n in range(3):
            made = await client.post(
                f"{url}/api/tasks",
                headers=me,
                json={"title": f"Ping {n}", "remind_at": due.isoformat()},
            )
            assert made.status_code == 201, made.text
        stack.wait_restarted("recurring-task", restarts)

        for n in range(3):
            found = await poll(lambda n=n: active(f"series {n}"))
            assert [t["due_at"][:10] for t in found] == ["2031-05-08"]

        async def notes(count: int) -> list[Any] | None:
            listed = await items(client, f"{url}/api/notifications", me)
            return listed if len(listed) >= count else None

        await poll(lambda: notes(3), timeout=120)

        # audit crashes too: every event is still recorded, once.
        restarts = stack.crash("audit")
        renamed = await client.patch(
            f"{url}/api/tasks/{series[0]['id']}", headers=me, json={"priority": "low"}
        )
        assert renamed.status_code == 200, renamed.text
        stack.wait_restarted("audit", restarts)

        async def updated() -> list[str] | None:
            types = await trail(client, apis, me, series[0]["id"])
            return types if "task.updated" in types else None

        types = await poll(updated, timeout=120)

        # Settled: the next event after everything above has been audited, so nothing
        # redelivered is still on its way.
        marker = await client.post(f"{url}/api/tasks", headers=me, json={"title": "Marker"})
        assert marker.status_code == 201
        await poll(lambda: trail(client, apis, me, marker.json()["id"]), timeout=60)

        types = await trail(client, apis, me, series[0]["id"])
        assert types.count("task.updated") == 1
        assert types.count("task.completed") == 1
        for n in range(3):
            assert len(await active(f"series {n}")) == 1
        titles = sorted(n["title"] for n in await items(client, f"{url}/api/notifications", me))
        assert titles == ["Ping 0", "Ping 1", "Ping 2"]


def test_the_app_image_runs_as_a_non_root_user(stack: Stack) -> None:
    user = run(["docker", "image", "inspect", "--format", "{{.Config.User}}", "todo-app/app:local"])
    assert user.strip() == "10001:10001"
    for service in ("task-api", "recurring-task", "notification", "audit", "migrate"):
        config = run(
            ["docker", "inspect", "--format", "{{.Config.User}}", stack.container(service)]
        )
        assert config.strip() == "10001:10001", service
    uid = run(["docker", "exec", stack.container("task-api"), "id", "-u"])
    assert uid.strip() == "10001"
    health = run(
        [
            "docker",
            "image",
            "inspect",
            "--format",
            "{{json .Config.Healthcheck}}",
            "todo-app/app:local",
        ]
    )
    assert "/healthz" in health
    labels = run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", "todo-app/app:local"]
    )
    assert '"org.opencontainers.image.title":"todo-app"' in labels


def test_a_port_in_use_is_named_with_the_variable_that_moves_it() -> None:
    engine_ready()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        up = subprocess.run(  # noqa: S603
            [COMPOSE_SH, "up"],
            env=stack_env(f"todo-test-port-{port}", port),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert up.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in up.stderr
    assert "TODO_PORT" in up.stderr


def test_a_bad_port_value_is_refused() -> None:
    engine_ready()
    up = subprocess.run(  # noqa: S603
        [COMPOSE_SH, "up"],
        env={**stack_env("todo-test-bad-port", free_port()), "TODO_PORT": "80a"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert up.returncode != 0
    assert "TODO_PORT=80a is not a port number" in up.stderr
