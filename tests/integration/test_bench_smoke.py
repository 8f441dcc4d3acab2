"""`python -m bench --quick` runs to the end and every benchmark reports a
result. A smoke test only: no timing or target is asserted here."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]


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
            running.kill()
            running.communicate()
            tail = "\n".join(progress.read_text().splitlines()[-40:])
            pytest.fail(f"python -m bench --quick still ran after 600 s; it was at:\n{tail}")
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
