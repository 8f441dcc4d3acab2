"""The chart installed for real: every pod Ready with the sidecar Dapr's injector added,
`helm test`, the acceptance path through the Services, a pod of each service and the
Kafka broker killed mid-scenario with nothing lost or doubled, and an upgrade that rolls
out."""

import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.cluster.conftest import CHART, LOCAL_VALUES, RELEASE, Release, run
from tests.e2e.processes import items, poll, sign_up
from tests.e2e.scenarios import Apis, pay_rent_every_month, trail

SERVICES = ("task-api", "recurring-task", "notification", "audit")

pytestmark = pytest.mark.timeout(900)


def test_every_service_runs_with_an_injected_sidecar(release: Release) -> None:
    for service in SERVICES:
        [pod] = release.pods(service)
        names = [c["name"] for c in pod["spec"]["containers"]]  # type: ignore[index]
        assert names == [service, "daprd"], names
        statuses = pod["status"]["containerStatuses"]  # type: ignore[index]
        assert all(s["ready"] for s in statuses), statuses
        [daprd] = [c for c in pod["spec"]["containers"] if c["name"] == "daprd"]  # type: ignore[index]
        assert daprd["image"] == "todo-app/daprd:local"


def test_secrets_and_reminders_go_through_dapr(release: Release) -> None:
    """Each service read its keys from the release's Secret through the secrets-kubernetes
    store when it started; reminders are jobs of Dapr's scheduler (values-local.yaml)."""
    for service in SERVICES:
        [pod] = release.pods(service)
        [app] = [c for c in pod["spec"]["containers"] if c["name"] == service]  # type: ignore[index]
        env = {e["name"]: e.get("value") for e in app.get("env", [])}
        assert env.get("DAPR_SECRET_STORE") == "secrets-kubernetes", env
        log = release.k("logs", pod["metadata"]["name"], "-c", service)  # type: ignore[index]
        assert "secrets from the Dapr secret store secrets-kubernetes" in log, log[-2000:]
        if service == "recurring-task":
            assert env.get("REMINDER_SCHEDULER") == "dapr-jobs", env
            assert "scheduled the jobs of" in log, log[-2000:]


def test_helm_test_passes(release: Release) -> None:
    out = run(
        [release.helm, "test", RELEASE, "-n", release.namespace, "--timeout", "3m"], timeout=240
    )
    assert "Phase:          Succeeded" in out


def _broker_pid(release: Release) -> int:
    """The host pid of the Kafka broker's JVM (the node is this machine)."""
    pod = release.k("get", "pod", f"{RELEASE}-kafka-0", "-o", "json")
    container_id = json.loads(pod)["status"]["containerStatuses"][0]["containerID"].split("//")[1]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with (
                open(f"/proc/{entry}/cgroup") as cgroup,
                open(f"/proc/{entry}/cmdline", "rb") as cmd,
            ):
                if container_id in cgroup.read() and b"kafka.Kafka" in cmd.read():
                    return int(entry)
        except OSError:
            continue
    raise AssertionError("no broker process found")


def test_the_gateway_serves_the_page_from_the_host(release: Release) -> None:
    """The page and the API at the gateway's NodePort on 127.0.0.1. (The acceptance test
    below goes through it too: notifications and the audit trail answer there only if
    their paths reach their own services.)"""
    door = release.front_door()
    page = httpx.get(f"{door}/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert httpx.get(f"{door}/readyz", timeout=10).json()["database"] == "ok"
    assert httpx.get(f"{door}/api/tasks", timeout=10).status_code == 401


async def test_acceptance_with_pods_killed_mid_scenario(release: Release) -> None:
    # Everything through the front door, as the web page calls it.
    api = notes_url = audit_url = release.front_door()
    async with httpx.AsyncClient(timeout=30) as client:
        _, me = await sign_up(client, api, "cluster", notes_url=notes_url)

        async def active(q: str) -> list[Any]:
            return await items(client, f"{api}/api/tasks", me, status="active", q=q)

        apis = Apis(api, notes_url, audit_url)
        await pay_rent_every_month(client, apis, me)

        # recurring-task's pod killed while tasks are completed and reminders come due.
        series = []
        for n in range(3):
            made = await client.post(
                f"{api}/api/tasks",
                headers=me,
                json={
                    "title": f"Series {n}",
                    "due_at": "2031-05-01T08:00:00",
                    "recurrence_rule": "FREQ=WEEKLY",
                },
            )
            assert made.status_code == 201, made.text
            series.append(made.json())
        selector = (
            f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=recurring-task"
        )
        gone = release.kill(selector)
        for task in series:
            assert (
                await client.post(f"{api}/api/tasks/{task['id']}/complete", headers=me)
            ).status_code == 200
        due = datetime.now(UTC) + timedelta(seconds=2)
        for n in range(3):
            made = await client.post(
                f"{api}/api/tasks",
                headers=me,
                json={"title": f"Ping {n}", "remind_at": due.isoformat()},
            )
            assert made.status_code == 201, made.text
        release.wait_ready(selector, gone)
        release.wait_serving("recurring-task")
        for n in range(3):
            found = await poll(lambda n=n: active(f"series {n}"), timeout=180)
            assert [t["due_at"][:10] for t in found] == ["2031-05-08"]

        async def count_notes(count: int) -> list[Any] | None:
            listed = await items(client, f"{notes_url}/api/notifications", me)
            return listed if len(listed) >= count else None

        await poll(lambda: count_notes(4), timeout=180)

        # The broker's process crashes (its container restarts with its log), then
        # audit's pod is killed while a change is made.
        os.kill(_broker_pid(release), signal.SIGKILL)
        selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=audit"
        gone = release.kill(selector)
        changed = await client.patch(
            f"{api}/api/tasks/{series[0]['id']}", headers=me, json={"priority": "low"}
        )
        assert changed.status_code == 200, changed.text
        release.wait_ready(selector, gone)
        release.wait_serving("audit")
        await poll(
            lambda: _has(trail(client, apis, me, series[0]["id"]), "task.updated"), timeout=240
        )

        # notification's pod killed while reminders come due; then task-api's own pod.
        selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=notification"
        gone = release.kill(selector)
        due = datetime.now(UTC) + timedelta(seconds=2)
        made = await client.post(
            f"{api}/api/tasks", headers=me, json={"title": "Late", "remind_at": due.isoformat()}
        )
        assert made.status_code == 201, made.text
        release.wait_ready(selector, gone)
        release.wait_serving("notification")
        await poll(lambda: count_notes(5), timeout=180)
        selector = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=task-api"
        gone = release.kill(selector)
        release.wait_ready(selector, gone)
        release.wait_serving("task-api")

        marker = await client.post(f"{api}/api/tasks", headers=me, json={"title": "Marker"})
        assert marker.status_code == 201
        await poll(lambda: trail(client, apis, me, marker.json()["id"]), timeout=120)
        types = await trail(client, apis, me, series[0]["id"])
        assert types.count("task.updated") == 1
        assert types.count("task.completed") == 1
        for n in range(3):
            assert len(await active(f"series {n}")) == 1
        titles = sorted(
            n["title"] for n in await items(client, f"{notes_url}/api/notifications", me)
        )
        assert titles == ["Late", "Pay rent", "Ping 0", "Ping 1", "Ping 2"]


async def _has(types: Any, wanted: str) -> bool:
    return wanted in await types


def test_an_upgrade_with_a_changed_value_rolls_out(release: Release) -> None:
    run(
        [
            release.helm,
            "upgrade",
            RELEASE,
            str(CHART),
            "-n",
            release.namespace,
            *LOCAL_VALUES,
            "--set",
            "config.defaultTimezone=Europe/Paris",
            "--wait",
            "--timeout",
            "6m",
        ],
        timeout=420,
    )
    for service in SERVICES:
        [pod] = release.pods(service)
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}  # type: ignore[index]
        assert env["DEFAULT_TIMEZONE"] == "Europe/Paris", service
    assert "deployed" in run([release.helm, "status", RELEASE, "-n", release.namespace])


NAMESPACED = (
    "pods,deployments,statefulsets,replicasets,services,jobs,configmaps,secrets,"
    "persistentvolumeclaims,networkpolicies,serviceaccounts,poddisruptionbudgets,"
    "components.dapr.io,subscriptions.dapr.io,resiliencies.dapr.io,configurations.dapr.io"
)


KEPT = [f"secret/{RELEASE}-postgresql", f"secret/{RELEASE}-secrets"]


def test_uninstall_leaves_only_the_kept_secrets(release: Release) -> None:
    """Last: the release goes, all but two Secrets kept on purpose: the token signing
    key (so a reinstall keeps issued tokens valid) and the bundled database's password
    (so a reinstall can open the data it kept)."""
    run([release.helm, "uninstall", RELEASE, "-n", release.namespace, "--wait"], timeout=240)
    deadline = time.monotonic() + 180  # pods end within their grace period
    while True:
        left = release.k(
            "get", NAMESPACED, "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name"
        ).split()
        if sorted(left) == KEPT or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert sorted(left) == KEPT, left
