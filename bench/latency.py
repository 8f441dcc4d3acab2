"""Latency distributions with the tail the event benchmarks report (p99, max)."""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Latency:
    """Milliseconds."""

    n: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    def as_dict(self) -> dict[str, float]:
        return {
            "n": self.n,
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "p99_ms": round(self.p99, 3),
            "max_ms": round(self.max, 3),
            "mean_ms": round(self.mean, 3),
        }


def latency(seconds: Sequence[float]) -> Latency:
    if not seconds:
        raise ValueError("no samples")
    ms = sorted(s * 1000 for s in seconds)
    if len(ms) == 1:
        return Latency(1, ms[0], ms[0], ms[0], ms[0], ms[0])
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return Latency(len(ms), q[49], q[94], q[98], ms[-1], statistics.fmean(ms))


def latency_or_none(seconds: Sequence[float]) -> dict[str, float] | None:
    return latency(seconds).as_dict() if seconds else None
