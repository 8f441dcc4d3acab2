"""The real task API as a subprocess (`todo serve --service task-api`), with
its memory and CPU watched from /proc while it runs."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from bench.common import Database
from testsupport.ports import free_port

TODO = Path(sys.executable).parent / "todo"
# The code under measurement is this checkout's, whichever tree the
# environment's editable install points at.
ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
SAMPLE_EVERY = 0.1
_TICKS = os.sysconf("SC_CLK_TCK")

# The memory of every service process started since `take_started_memory()`
# was last called, taken as each stops: `python -m bench` adds it to the
# result of the benchmark that started them.
_started_memory: list[dict[str, Any]] = []


def take_started_memory() -> list[dict[str, Any]]:
    """Memory of the service processes started (and stopped) since the last call."""
    taken = list(_started_memory)
    _started_memory.clear()
    return taken


def status_kib(pid: int, field: str, source: str = "status") -> int | None:
    """A `VmRSS`-style field of /proc/<pid>/status (or another /proc file of the
    same form, such as smaps_rollup), in KiB."""
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def descendants(pid: int) -> list[int]:
    """The live child processes of `pid`, their children, and so on."""
    found: list[int] = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in map(int, children):
        found += [child, *descendants(child)]
    return found


def own_cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU time so far of the process alone (0 once it is gone);
    with `reaped`, also that of the children it has waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live children (the
    worker processes of a server started with several)."""
    return sum(own_cpu_seconds(p) for p in (pid, *descendants(pid)))


def _rss_kib(pid: int) -> int:
    """Resident memory of a process and its live children, in KiB."""
    return sum(status_kib(p, "VmRSS") or 0 for p in (pid, *descendants(pid)))


class ApiServer:
    """`async with ApiServer(db) as api:` starts the API and waits for /readyz."""

    def __init__(self, db: Database, *, extra_env: dict[str, str] | None = None) -> None:
        self.db = db
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._extra_env = extra_env or {}
        self._tmp = tempfile.TemporaryDirectory(prefix="todo-bench-")
        self.log_path = Path(self._tmp.name) / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._sampler: asyncio.Task[None] | None = None
        self.peak_rss_kib = 0

    @property
    def pid(self) -> int:
        assert self._proc is not None, "the server is not running"
        return self._proc.pid

    async def __aenter__(self) -> Self:
        env = {
            **os.environ,
            "DATABASE_URL": self.db.url,
            "LOCAL_USER": "false",
            "DATA_DIR": self._tmp.name,
            # The benchmarks measure the service, not the per-user rate limiter.
            "RATE_LIMIT_PER_USER_PER_SECOND": "1000000",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            **self._extra_env,
        }
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(  # noqa: S603, ASYNC220 - our own command; returns at once
                [str(TODO), "serve", "--service", "task-api", "--port", str(self.port)],
                cwd=self._tmp.name,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            await self._wait_ready()
        except BaseException:
            await self._stop()
            raise
        self._sampler = asyncio.create_task(self._sample())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()

    async def _wait_ready(self) -> None:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.base_url, timeout=2.0) as client:
            while True:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    raise RuntimeError(f"the API exited at start-up:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"the API was not ready in time:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    async def _sample(self) -> None:
        while True:
            self.peak_rss_kib = max(self.peak_rss_kib, _rss_kib(self.pid))
            await asyncio.sleep(SAMPLE_EVERY)

    def memory(self) -> dict[str, Any]:
        """Peak RSS seen by sampling and the kernel's own high-water mark, of
        the server with its worker processes (each process's mark summed)."""
        pids = (self.pid, *descendants(self.pid))
        return {
            "processes": len(pids),
            "peak_rss_sampled_mib": round(self.peak_rss_kib / 1024, 1),
            "peak_rss_hwm_mib": round(sum(status_kib(p, "VmHWM") or 0 for p in pids) / 1024, 1),
            "rss_now_mib": round(_rss_kib(self.pid) / 1024, 1),
        }

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def _stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        proc = self._proc
        if proc is not None and proc.poll() is None:
            _started_memory.append({"service": "task-api", "pid": proc.pid, **self.memory()})
            proc.send_signal(signal.SIGINT)
            for _ in range(100):
                if proc.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                proc.kill()
                proc.wait()
        self._tmp.cleanup()

    # Accounts, through the API itself.

    async def register(self, email: str, password: str, timezone: str) -> str:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30.0) as client:
            response = await client.post(
                "/api/auth/register",
                json={"email": email, "password": password, "timezone": timezone},
            )
        if response.status_code != 201:
            raise RuntimeError(f"register failed: {response.status_code} {response.text}")
        user_id: str = response.json()["id"]
        return user_id

    async def login(self, email: str, password: str) -> str:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30.0) as client:
            response = await client.post(
                "/api/auth/login", json={"email": email, "password": password}
            )
        if response.status_code != 200:
            raise RuntimeError(f"login failed: {response.status_code} {response.text}")
        token: str = response.json()["access_token"]
        return token
