"""Where the campaign's CPU goes: CPU time and peak memory (PSS) of each process of
the stack, sampled from /proc once a second while the load runs.

A process killed by a fault keeps what it used up to its last sample, and its
replacement counts from its start. PostgreSQL counts its backends, the ones
that ended too (the postmaster reaps them). The load driver counts its own
process only: the services are its children, and they count on their own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field

from bench.server import descendants, own_cpu_seconds, status_kib

LOAD_DRIVER = "load driver and checker"
# Memory is read every this many samples: the kernel walks a process's page tables
# for its PSS, which for PostgreSQL's many backends costs the load driver several
# percent of a core when done every second.
PSS_EVERY = 15


def tree_pss_kib(pid: int, *, alone: bool = False) -> int:
    """Proportional memory of a process and its live descendants: a page shared by
    several counts a share in each (PostgreSQL's backends share its buffers)."""
    pids = (pid,) if alone else (pid, *descendants(pid))
    return sum(status_kib(p, "Pss", "smaps_rollup") or 0 for p in pids)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process, its live descendants and the children they reaped."""
    return sum(own_cpu_seconds(p, reaped=True) for p in (pid, *descendants(pid)))


@dataclass
class _Seen:
    first: float
    last: float


@dataclass
class Usage:
    """`await usage.run(stop)` samples until `stop` is set; `lines()` is the report's table."""

    processes: Callable[[], dict[str, int]]  # name -> pid, as the stack has them now
    interval: float = 1.0
    _cpu: dict[tuple[str, int], _Seen] = field(default_factory=dict)
    _pss: dict[str, int] = field(default_factory=dict)
    _seconds: float = 0.0
    _samples: int = 0

    def sample(self, *, first: bool = False) -> None:
        found = {**self.processes(), LOAD_DRIVER: os.getpid()}
        for name, pid in found.items():
            own = name == LOAD_DRIVER
            cpu = own_cpu_seconds(pid) if own else tree_cpu_seconds(pid)
            seen = self._cpu.get((name, pid))
            if seen is None:
                # Before the load: what it used starting up is not the load's.
                self._cpu[(name, pid)] = _Seen(first=cpu if first else 0.0, last=cpu)
            elif cpu >= seen.last:
                seen.last = cpu
            if first or self._samples % PSS_EVERY == 0:
                memory = tree_pss_kib(pid, alone=own)
                self._pss[name] = max(self._pss.get(name, 0), memory)
        self._samples += 1

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.sample(first=True)
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
            self.sample()
        self._seconds = loop.time() - started

    def cpu_by_name(self) -> dict[str, float]:
        spent: dict[str, float] = {}
        for (name, _), seen in self._cpu.items():
            spent[name] = spent.get(name, 0.0) + seen.last - seen.first
        return spent

    def lines(self, cores: int | None = None) -> Sequence[str]:
        cores = cores or os.cpu_count() or 1
        spent = self.cpu_by_name()
        total = sum(spent.values())
        available = cores * max(self._seconds, 1e-9)
        rows = [
            "| process | CPU s | share of the machine | peak PSS MiB |",
            "|---|---:|---:|---:|",
        ]
        for name, cpu in sorted(spent.items(), key=lambda item: -item[1]):
            memory = self._pss.get(name, 0) / 1024
            rows.append(f"| {name} | {cpu:.1f} | {cpu / available:.0%} | {memory:.0f} |")
        rows.append(f"| all of the above | {total:.1f} | {total / available:.0%} | |")
        return [
            f"CPU sampled once a second over the {self._seconds:.0f} s of load, on {cores} cores; "
            "a killed process counts up to its last sample. PSS (resident memory with each shared "
            f"page split among the processes that share it) every {PSS_EVERY} s.",
            "",
            *rows,
        ]
