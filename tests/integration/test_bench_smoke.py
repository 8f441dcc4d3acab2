"""`python -m bench --quick` runs to the end and every benchmark reports a
result. A smoke test only: no timing or target is asserted here."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS, TASKS_DUMPED

ROOT = Path(__file__).resolve().parents[2]


def _running_tasks(running: subprocess.Popen[str], progress: Path) -> str:
    """The stacks of the overstaying run's asyncio tasks, which it writes on SIGUSR1;
    waited for up to 10 s, as a loop that is blocked cannot answer."""
    before = len(progress.read_text())
    running.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        written = progress.read_text()[before:]
        if TASKS_DUMPED in written:
            return written.split(TASKS_DUMPED)[0]
        time.sleep(0.1)
    return "(no answer to SIGUSR1 within 10 s: the event loop itself is blocked)"


# About 110 s alone; slower late in a full run, when the broker holds every earlier
# test's topics and groups and each benchmark's consumer groups take longer to form.
@pytest.mark.timeout(660)
@pytest.mark.skipif(
    not os.environ.get("TEST_POSTGRES_DSN"), reason="the benchmarks need the test PostgreSQL"
)
def test_every_benchmark_runs_in_quick_mode(tmp_path: Path) -> None:
    # The progress goes to a file, so a run that overstays shows where it stood.
    progress = tmp_path / "progress.log"
    with progress.open("w") as err:
        running = subprocess.Popen(
            [sys.executable, "-m", "bench", "--quick"],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            stdout, _ = running.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            tail = "\n".join(progress.read_text().splitlines()[-40:])
            stacks = _running_tasks(running, progress)
            running.kill()
            running.communicate()
            pytest.fail(
                f"python -m bench --quick still ran after 600 s; it was at:\n{tail}\n"
                f"and its tasks were waiting here:\n{stacks}"
            )
    said = progress.read_text()
    assert running.returncode == 0, stdout[-3000:] + said[-3000:]
    written = re.search(r"results written to (\S+\.json)", stdout)
    assert written is not None, stdout[-3000:]
    path = ROOT / written.group(1)
    try:
        results = json.loads(path.read_text())
    finally:
        path.unlink()
    assert set(results["benchmarks"]) == set(BENCHMARKS)
    for name, result in results["benchmarks"].items():
        assert result.get("config"), f"{name} reported nothing"
