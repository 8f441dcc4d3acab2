"""Running the services as separate processes (`todo serve --service …`) and waiting on them.

Shared by the four-process test over Kafka and the tests behind real daprd sidecars: the
processes with their logs, the environment every service gets, readiness, polling, and a
registered user.
"""

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TODO = str(Path(sys.executable).parent / "todo")
SERVICES = ("task-api", "recurring-task", "notification", "audit")
PASSWORD = "pw-12345678"


@dataclass
class Processes:
    """Named child processes, each logging to `<logs>/<name>.log`."""

    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def spawn(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:  # the child keeps its own copy
            self.procs[name] = subprocess.Popen(  # noqa: S603 - our own command
                list(argv), env=env, stdout=log, stderr=subprocess.STDOUT
            )

    async def wait_http(self, name: str, url: str, status: int, timeout: float = 60) -> None:
        """Until `url` answers `status`; fails at once when the process exits."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient() as client:
            while True:
                if self.procs[name].poll() is not None:
                    raise AssertionError(f"{name} exited: {self.tail(name)}")
                try:
                    if (await client.get(url)).status_code == status:
                        return
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"{name} not ready: {self.tail(name)}")
                await asyncio.sleep(0.2)

    def tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Cluster(Processes):
    """The services, each `todo serve --service <name>` on its own port.

    Each gets `env`, plus what `service_env` adds for it (its sidecar's port, say)."""

    env: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self, service: str) -> None:
        self.spawn(
            service,
            [TODO, "serve", "--service", service, "--port", str(self.ports[service])],
            {**self.env, **self.service_env.get(service, {})},
        )

    async def ready(self, service: str, timeout: float = 60) -> None:
        await self.wait_http(service, f"{self.url(service)}/readyz", 200, timeout)


def service_env(
    base: Mapping[str, str], *, database_url: str, key_file: Path, data_dir: Path, smtp_port: int
) -> dict[str, str]:
    """What every service process of a test gets, on top of `base` (the test's environment)."""
    return {
        **base,
        "DATABASE_URL": database_url,
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        "DATA_DIR": str(data_dir),
        "LOCAL_USER": "false",
        "RELAY_POLL_SECONDS": "0.2",
        "DEFAULT_TIMEZONE": "UTC",
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
    }


async def poll(
    check: Callable[[], Awaitable[Any]], timeout: float = 60, what: str = "condition"
) -> Any:
    """`check()`'s first truthy result, trying every 0.1 s; `what` names the
    condition in the failure."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not met in {timeout:g} s")
        await asyncio.sleep(0.1)


async def items(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: str
) -> list[Any]:
    """The `items` of one page of a listing (up to 100)."""
    response = await client.get(url, headers=headers, params={"limit": "100", **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def sign_up(
    client: httpx.AsyncClient, api: str, prefix: str, *, notes_url: str | None = None
) -> tuple[str, dict[str, str]]:
    """Register and log in a new user; with `notes_url`, turn on in-app and email
    notifications. The email address and the authorization header."""
    email = f"{prefix}-{uuid.uuid4().hex[:6]}@example.com"
    registered = await client.post(
        f"{api}/api/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    login = await client.post(f"{api}/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    me = {"Authorization": f"Bearer {login.json()['access_token']}"}
    if notes_url is not None:
        prefs = await client.put(
            f"{notes_url}/api/notifications/preferences",
            headers=me,
            json={"in_app": True, "email": True, "email_address": email},
        )
        assert prefs.status_code == 200, prefs.text
    return email, me
