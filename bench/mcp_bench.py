"""Benchmark: what an MCP tool call costs over the service-layer call it wraps.

On a PostgreSQL database of its own, one user with a few tasks; `get_task`
and `add_task` three ways, interleaved in a rotating order after a warm-up:

- floor: the service-layer call made directly (`service.get_task` /
  `service.create_task` in a unit of work), what any caller of the domain pays;
- in process: the official SDK's in-memory client (`mcp.Client(server)`, as the
  assistant uses it) calling this process's own `MCPServer`: argument
  validation, the tool, the text summary and the structured output validated
  against the output schema, no JSON-RPC framing;
- HTTP: the SDK client over streamable HTTP on loopback to the real task API
  (`todo serve --service task-api`, uvicorn, in a process of its own), with a
  bearer JWT verified on every request; the SDK's default connect, so each call
  is one stateless POST (protocol 2026-07-28).

Latency per call, p50/p99 in milliseconds; ratios of medians over the floor.
"""

import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from bench.common import database, ratio, recreate_database, runner_of
from bench.server import ApiServer
from mcp_server.http import MCP_PATH
from mcp_server.runtime import Runtime
from mcp_server.server import create_server
from services.bootstrap import bootstrap
from services.shared.auth.principal import Principal
from services.tasks import service
from services.tasks.schemas import TaskCreate

EMAIL = "mcp@bench.example.com"
PASSWORD = "correct horse battery"
TIMEZONE = "Europe/Berlin"
TOOLS = ("get_task", "add_task")
PATHS = ("floor", "in_process", "http")
SEED_TASKS = 20


@dataclass(frozen=True, slots=True)
class McpBenchConfig:
    database: str
    calls: int  # measured calls per tool and path
    warmup: int


FULL = McpBenchConfig("todo_bench_mcp", calls=1000, warmup=50)
QUICK = McpBenchConfig("todo_bench_mcp", calls=150, warmup=20)


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)

    def at(q: float) -> float:
        # Nearest rank: with n samples, p99 is a real sample, not an extrapolation.
        return ms[min(len(ms) - 1, max(0, round(q * len(ms)) - 1))]

    return {
        "n": len(ms),
        "p50_ms": round(at(0.50), 3),
        "p99_ms": round(at(0.99), 3),
        "mean_ms": round(sum(ms) / len(ms), 3),
    }


def _ok(result: CallToolResult) -> None:
    if result.is_error:
        text = " ".join(b.text for b in result.content if b.type == "text")
        raise RuntimeError(f"tool error during the benchmark: {text}")


async def _user(open_uow: Callable[[], Any]) -> Principal:
    async with open_uow() as uow:
        found = await uow.accounts.user_by_email(EMAIL)
    if found is None:
        raise RuntimeError("the benchmark user was not registered")
    principal: Principal = found[0]
    return principal


async def run(cfg: McpBenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    db = database(cfg.database)
    await recreate_database(db)
    scratch = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
    container = bootstrap(database_url=db.url, data_dir=scratch, local_user=False)
    samples: dict[str, list[float]] = {f"{t}/{p}": [] for t in TOOLS for p in PATHS}
    try:
        async with ApiServer(db) as api:
            await api.register(EMAIL, PASSWORD, TIMEZONE)
            token = await api.login(EMAIL, PASSWORD)
            user = await _user(container.uow)
            task_ids: list[uuid.UUID] = []
            for n in range(SEED_TASKS):
                async with container.uow() as uow:
                    data = TaskCreate.model_validate(
                        {"title": f"Seed {n}", "due_at": f"2030-01-{n + 1:02d}T09:00"}
                    )
                    task_ids.append((await service.create_task(uow, user=user, data=data)).id)
            server = create_server(Runtime(open_uow=container.uow, caller=lambda: user))
            async with (
                Client(server, raise_exceptions=False) as local,
                httpx2.AsyncClient(
                    headers={"Authorization": f"Bearer {token}"}, timeout=30
                ) as http,
                Client(streamable_http_client(api.base_url + MCP_PATH, http_client=http)) as remote,
            ):
                protocol = remote.session.protocol_version
                log(
                    f"  {cfg.calls} calls of each tool three ways after {cfg.warmup}"
                    f" (HTTP protocol {protocol})"
                )
                counter = 0

                def target() -> uuid.UUID:
                    return task_ids[counter % len(task_ids)]

                def title() -> str:
                    return f"Bench task {counter}"

                async def floor_get() -> None:
                    async with container.uow() as uow:
                        await service.get_task(uow, user=user, task_id=target())

                async def floor_add() -> None:
                    async with container.uow() as uow:
                        await service.create_task(uow, user=user, data=TaskCreate(title=title()))

                def via(client: Client, tool: str) -> Callable[[], Awaitable[None]]:
                    async def call() -> None:
                        arguments = (
                            {"task_id": str(target())} if tool == "get_task" else {"title": title()}
                        )
                        _ok(await client.call_tool(tool, arguments))

                    return call

                work: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                    ("get_task/floor", floor_get),
                    ("get_task/in_process", via(local, "get_task")),
                    ("get_task/http", via(remote, "get_task")),
                    ("add_task/floor", floor_add),
                    ("add_task/in_process", via(local, "add_task")),
                    ("add_task/http", via(remote, "add_task")),
                ]
                for number in range(cfg.warmup + cfg.calls):
                    counter = number
                    shift = number % len(work)  # rotate: no path always runs first
                    for name, call in work[shift:] + work[:shift]:
                        started = time.perf_counter()
                        await call()
                        if number >= cfg.warmup:
                            samples[name].append(time.perf_counter() - started)
                    done = number - cfg.warmup + 1
                    if done > 0 and done % 250 == 0:
                        log(f"  {done} calls of each")
    finally:
        await container.aclose()
    latency = {name: percentiles(values) for name, values in samples.items()}
    ratios = {
        f"{tool}/{path}_over_floor": round(
            ratio(latency[f"{tool}/{path}"]["p50_ms"], latency[f"{tool}/floor"]["p50_ms"]), 2
        )
        for tool in TOOLS
        for path in ("in_process", "http")
    }
    added = {
        f"{tool}/{path}_added_ms": round(
            latency[f"{tool}/{path}"]["p50_ms"] - latency[f"{tool}/floor"]["p50_ms"], 3
        )
        for tool in TOOLS
        for path in ("in_process", "http")
    }
    return {
        "config": asdict(cfg),
        "http_protocol": protocol,
        "latency": latency,
        "ratios": ratios,
        "added_ms": added,
    }


def render(result: dict[str, Any]) -> list[str]:
    lat, ratios, added = result["latency"], result["ratios"], result["added_ms"]
    lines = [
        f"MCP tool-call round trip ({result['config']['calls']} calls of each, interleaved;"
        f" HTTP protocol {result['http_protocol']})",
        f"  {'call':<35}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'p50 x floor':>13}",
    ]
    labels = {
        "floor": "service layer (floor)",
        "in_process": "MCP in process",
        "http": "MCP over HTTP (loopback)",
    }
    for tool in TOOLS:
        for path, label in labels.items():
            s = lat[f"{tool}/{path}"]
            times = "" if path == "floor" else f"{ratios[f'{tool}/{path}_over_floor']:>13.2f}"
            lines.append(
                f"  {tool + ' ' + label:<35}{s['p50_ms']:>9.2f}{s['p99_ms']:>9.2f}"
                f"{s['mean_ms']:>9.2f}{times}"
            )
    for tool in TOOLS:
        lines.append(
            f"  {tool}: MCP adds {added[f'{tool}/in_process_added_ms']:.2f} ms in process,"
            f" {added[f'{tool}/http_added_ms']:.2f} ms over HTTP (medians)"
        )
    return lines


runner = runner_of(run, render, FULL, QUICK)


__all__ = ["FULL", "QUICK", "McpBenchConfig", "render", "run", "runner"]
