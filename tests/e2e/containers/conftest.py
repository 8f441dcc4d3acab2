"""The compose stack (compose.yaml) on the real container engine, with the images
built on this machine.

`make test` starts the engine and builds the images (`scripts/images.sh`) before
pytest, and sets DOCKER_COMPOSE to the Compose v2 binary. Each run starts a stack
of its own (a project name of its own, a free loopback port) through
`scripts/compose.sh up`, as `make compose-up` does, and removes it with its
volumes at the end.
"""

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testsupport.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_SH = str(ROOT / "scripts" / "compose.sh")
IMAGES = (
    "todo-app/debian:bookworm-local",
    "todo-app/app:local",
    "todo-app/postgres:local",
    "todo-app/redis:local",
    "todo-app/kafka:local",
    "todo-app/daprd:local",
    "todo-app/gateway:local",
)


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> str:
    """A command's stdout; its stderr in the failure."""
    done = subprocess.run(  # noqa: S603 - our own commands
        argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{argv}: {done.stderr[-3000:]}"
    return done.stdout


def engine_ready() -> str:
    """The Compose v2 binary, once the engine answers and every image is there."""
    compose = os.environ.get("DOCKER_COMPOSE", "")
    if not compose or not os.access(compose, os.X_OK):
        pytest.fail(
            f"DOCKER_COMPOSE={compose!r} is not an executable: `make test` sets it "
            "(or run with DOCKER_COMPOSE=$(scripts/docker.sh compose))"
        )
    info = subprocess.run(["docker", "info"], capture_output=True, check=False)  # noqa: S607
    if info.returncode != 0:
        pytest.fail("the container engine does not answer: scripts/docker.sh start")
    missing = [
        image
        for image in IMAGES
        if subprocess.run(  # noqa: S603
            ["docker", "image", "inspect", image],  # noqa: S607
            capture_output=True,
            check=False,
        ).returncode
        != 0
    ]
    if missing:
        pytest.fail(f"images missing: {', '.join(missing)}; build them with scripts/images.sh")
    return compose


@dataclass
class Stack:
    """A running compose project and the loopback URL of its gateway."""

    project: str
    url: str
    env: dict[str, str]

    def compose(self, *args: str, timeout: float = 120) -> str:
        return run([COMPOSE_SH, *args], env=self.env, timeout=timeout)

    def container(self, service: str) -> str:
        ids = run(
            [
                "docker",
                "ps",
                "--all",
                "--quiet",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--filter",
                f"label=com.docker.compose.service={service}",
            ]
        ).split()
        assert len(ids) == 1, f"{service}: {ids}"
        return ids[0]

    def state(self, service: str) -> dict[str, object]:
        inspected = json.loads(run(["docker", "inspect", self.container(service)]))
        state: dict[str, object] = inspected[0]["State"]
        state["RestartCount"] = inspected[0]["RestartCount"]
        return state

    def crash(self, service: str) -> int:
        """SIGKILL the container's main process from the host, as a crash would (`docker
        kill` would count as a deliberate stop, which the restart policy respects).
        The restart count before the crash."""
        state = self.state(service)
        os.kill(int(str(state["Pid"])), signal.SIGKILL)
        return int(str(state["RestartCount"]))

    def wait_restarted(self, service: str, after: int, timeout: float = 180) -> None:
        """Until the restart policy has brought `service` back, healthy."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state(service)
            health = state.get("Health")
            healthy = isinstance(health, dict) and health.get("Status") == "healthy"
            if int(str(state["RestartCount"])) > after and state["Running"] and healthy:
                return
            assert time.monotonic() < deadline, f"{service} did not come back: {state}"
            time.sleep(0.5)


def stack_env(project: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "TODO_PORT": str(port),
        "TODO_COMPOSE_PROJECT": project,
        "TODO_SKIP_IMAGES": "1",
    }


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    engine_ready()
    project = f"todo-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = stack_env(project, port)
    up = subprocess.run(  # noqa: S603
        [COMPOSE_SH, "up"], env=env, capture_output=True, text=True, timeout=420, check=False
    )
    running = Stack(project, f"http://127.0.0.1:{port}", env)
    try:
        assert up.returncode == 0, up.stderr[-6000:]
        assert up.stdout.strip().splitlines()[-1] == f"URL {running.url}"
        yield running
    finally:
        # Every container's log, kept for a failed run (build/ is not in the repository).
        logs = ROOT / "build" / "test-logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"compose-{project}.log").open("w") as out:
            subprocess.run(  # noqa: S603
                [COMPOSE_SH, "logs"], env=env, stdout=out, stderr=subprocess.STDOUT, check=False
            )
        down = subprocess.run(  # noqa: S603
            [COMPOSE_SH, "down"], env=env, capture_output=True, text=True, timeout=180, check=False
        )
        assert down.returncode == 0, down.stderr[-3000:]
        left = run(
            [
                "docker",
                "ps",
                "--all",
                "--quiet",
                "--filter",
                f"label=com.docker.compose.project={project}",
            ]
        ) + run(
            [
                "docker",
                "volume",
                "ls",
                "--quiet",
                "--filter",
                f"label=com.docker.compose.project={project}",
            ]
        )
        assert left.strip() == "", f"left behind: {left}"
