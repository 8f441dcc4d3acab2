"""The fault campaign's CPU accounting, on real processes: a process killed
by a fault keeps what it used, its replacement counts from its start, what
ran before the load does not count, and a parent counts the children it has
reaped (PostgreSQL's backends)."""

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bench.faults.usage import LOAD_DRIVER, Usage, tree_cpu_seconds
from bench.server import descendants, own_cpu_seconds

BURN = "while True: pass"


@contextmanager
def python(code: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", code])  # noqa: S603 - our own code
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def until(condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_killed_process_keeps_its_cpu_and_its_replacement_counts_from_its_start() -> None:
    running: dict[str, int] = {}
    usage = Usage(lambda: dict(running))
    with python(BURN) as first:
        running["worker"] = first.pid
        until(lambda: own_cpu_seconds(first.pid) >= 0.3, "the first worker to burn 0.3 s")
        usage.sample(first=True)  # the load starts: the 0.3 s before it do not count
        before = own_cpu_seconds(first.pid)
        until(lambda: own_cpu_seconds(first.pid) >= before + 0.3, "0.3 s more")
        usage.sample()
        first_during = usage.cpu_by_name()["worker"]
        assert 0.3 <= first_during <= own_cpu_seconds(first.pid) - 0.3
    with python(BURN) as second:  # restarted by the fault
        running["worker"] = second.pid
        until(lambda: own_cpu_seconds(second.pid) >= 0.3, "the second worker to burn 0.3 s")
        usage.sample()
        del running["worker"]
        usage.sample()  # gone now: what it used stays counted
    spent = usage.cpu_by_name()
    assert spent["worker"] >= first_during + 0.3
    assert LOAD_DRIVER in spent
    table = "\n".join(usage.lines(cores=2))
    assert "| worker |" in table
    assert f"| {LOAD_DRIVER} |" in table


def test_a_parent_counts_the_children_it_has_reaped() -> None:
    child = "import time\\nend = time.process_time() + 0.3\\nwhile time.process_time() < end: pass"
    parent = (
        f"import subprocess, sys, time\nsubprocess.run([sys.executable, '-c', '{child}'])\n"
        "time.sleep(60)"
    )
    with python(parent) as proc:
        until(lambda: own_cpu_seconds(proc.pid, reaped=True) >= 0.3, "the child to be reaped")
        assert descendants(proc.pid) == []
        assert tree_cpu_seconds(proc.pid) >= 0.3
        assert own_cpu_seconds(proc.pid) < 0.3  # the parent itself only waited
