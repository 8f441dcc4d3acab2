"""Dapr's scheduler service (the Jobs API's store and clock, etcd embedded) as a child
process on free loopback ports, for the tests and benchmarks that run real daprd.

DAPR_SCHEDULER names the binary (`make test` sets it from `scripts/dapr.sh scheduler
--print`). Its etcd keeps the jobs in `<workdir>/scheduler-data`, so `restart()` brings back
the same jobs, as a restarted scheduler pod with its volume does.
"""

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import httpx

from testsupport.ports import free_port


def scheduler_binary() -> str | None:
    """The scheduler of DAPR_SCHEDULER, or None when it is not set to an executable."""
    path = os.environ.get("DAPR_SCHEDULER", "")
    return path if path and os.access(path, os.X_OK) else None


class DaprScheduler:
    """One scheduler in standalone mode without TLS; `address` is what daprd's
    `--scheduler-host-address` takes."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.data = workdir / "scheduler-data"
        self.log_path = workdir / "scheduler.log"
        self.port = free_port()
        self.healthz_port = free_port()
        self._metrics_port = free_port()
        self._etcd_client_port = free_port()
        self._etcd_peer_port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--mode", "standalone",
            "--listen-address", "127.0.0.1",
            "--port", str(self.port),
            "--healthz-listen-address", "127.0.0.1",
            "--healthz-port", str(self.healthz_port),
            "--metrics-listen-address", "127.0.0.1",
            "--metrics-port", str(self._metrics_port),
            "--etcd-data-dir", str(self.data),
            "--etcd-client-port", str(self._etcd_client_port),
            "--etcd-initial-cluster",
            f"dapr-scheduler-server-0=http://127.0.0.1:{self._etcd_peer_port}",
            "--log-level", "info",
        ]  # fmt: skip

    def start(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own copy
            self._proc = subprocess.Popen(  # noqa: S603 - our own command
                self.command(), stdout=log, stderr=subprocess.STDOUT
            )

    async def ready(self, timeout: float = 60.0) -> None:
        """Until its health endpoint answers 200; fails at once when it exits."""
        assert self._proc is not None
        url = f"http://127.0.0.1:{self.healthz_port}/healthz"
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient() as client:
            while True:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"the scheduler exited: {self.tail()}")
                try:
                    if (await client.get(url)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"the scheduler is not healthy: {self.tail()}")
                await asyncio.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(sig)
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    async def restart(self) -> None:
        self.stop()
        self.start()
        await self.ready()

    async def __aenter__(self) -> "DaprScheduler":
        self.start()
        try:
            await self.ready()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]
