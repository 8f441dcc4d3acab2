"""`python -m bench [--only NAME] [--quick]`: run, report, save JSON."""

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    assistant_bench,
    create_throughput,
    dapr_latency,
    events_latency,
    mcp_bench,
    occurrence_latency,
    purge_cost,
    relay_throughput,
    reminder_delay,
    search_latency,
)
from bench.common import Runner, Stopwatch, server_dsn, server_version
from bench.report import render
from bench.server import take_started_memory
from bench.summary import summary

RESULTS = Path(__file__).resolve().parent / "results"


async def _create(quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    cfg = create_throughput.QUICK if quick else create_throughput.FULL
    return await create_throughput.run(cfg, log)


async def _search(quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    cfg = search_latency.QUICK if quick else search_latency.FULL
    return await search_latency.run(cfg, log)


async def _assistant(quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    cfg = assistant_bench.QUICK if quick else assistant_bench.FULL
    return await assistant_bench.run(cfg, log)


BENCHMARKS: dict[str, Runner] = {
    "create": _create,
    "search": _search,
    "events": events_latency.runner,
    "relay": relay_throughput.runner,
    "purge": purge_cost.runner,
    "reminders": reminder_delay.runner,
    "occurrences": occurrence_latency.runner,
    "assistant": _assistant,
    "mcp": mcp_bench.runner,
    "dapr": dapr_latency.runner,
}


TASKS_DUMPED = "-- end of the running tasks --"


def dump_tasks() -> None:
    """Every running asyncio task's stack, to stderr. On SIGUSR1: a run that overstays
    (the smoke test's timeout) shows what it was waiting on, not only where its
    progress stopped."""
    for task in asyncio.all_tasks():
        print(f"task {task.get_name()}:", file=sys.stderr)
        print("".join(traceback.format_list(_awaited(task.get_coro()))), file=sys.stderr)
    print(TASKS_DUMPED, file=sys.stderr, flush=True)


def _awaited(coro: Any) -> traceback.StackSummary:
    """The chain of frames a suspended coroutine is waiting in, outermost first (a
    task's own `print_stack` shows only the outermost)."""
    frames = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        frame = frame or getattr(coro, "gi_frame", None)
        if frame is not None:
            frames.append((frame, frame.f_lineno))
        coro = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "ag_await", None)
            or getattr(coro, "gi_yieldfrom", None)
        )
    return traceback.StackSummary.extract(iter(frames))


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            check=True,
            cwd=RESULTS.parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


async def _main(names: list[str], quick: bool) -> dict[str, Any]:
    server_dsn()  # fail early without the test servers' environment
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump_tasks)
    watch = Stopwatch()

    def log(message: str) -> None:
        print(f"[{watch.elapsed:6.1f} s] {message}", file=sys.stderr, flush=True)

    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "postgres": await server_version(),
            "commit": _commit(),
            "load_average_at_start": os.getloadavg(),
        },
        "benchmarks": {},
    }
    for name in names:
        log(f"benchmark {name}{' (quick)' if quick else ''}")
        bench_watch = Stopwatch()
        take_started_memory()
        result = await BENCHMARKS[name](quick, log)
        result["seconds"] = round(bench_watch.elapsed, 1)
        result["service_memory"] = take_started_memory()
        result["summary"] = summary(name, result)
        log(f"{name} summary: {json.dumps(result['summary'])}")
        results["benchmarks"][name] = result
    results["environment"]["load_average_at_end"] = os.getloadavg()
    results["seconds"] = round(watch.elapsed, 1)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", choices=sorted(BENCHMARKS), help="run one benchmark")
    parser.add_argument("--quick", action="store_true", help="small smoke run (< 1 min)")
    args = parser.parse_args()
    names = [args.only] if args.only else list(BENCHMARKS)
    results = asyncio.run(_main(names, args.quick))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(render(results))
    print(f"results written to {path.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
