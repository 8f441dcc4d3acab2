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


# About 80 s alone, up to three times that beside the rest of the suite on two cores.
@pytest.mark.timeout(420)
@pytest.mark.skipif(
    not os.environ.get("TEST_POSTGRES_DSN"), reason="the benchmarks need the test PostgreSQL"
)
def test_every_benchmark_runs_in_quick_mode() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    written = re.search(r"results written to (\S+\.json)", done.stdout)
    assert written is not None, done.stdout[-3000:]
    path = ROOT / written.group(1)
    try:
        results = json.loads(path.read_text())
    finally:
        path.unlink()
    assert set(results["benchmarks"]) == set(BENCHMARKS)
    for name, result in results["benchmarks"].items():
        assert result.get("config"), f"{name} reported nothing"
