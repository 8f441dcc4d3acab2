"""The reminder benchmark's headline: the burst's p99 per backend and the worst, and how
much later the Dapr Jobs API delivers than the built-in scheduler."""

from bench.summary import summary


def test_the_reminder_summary_names_each_bursts_p99_in_seconds_and_the_worst() -> None:
    def side(p99_ms: float, missing: int = 0) -> dict[str, object]:
        return {"delay": {"received": {"p99_ms": p99_ms}}, "missing": missing}

    result = {
        "backends": {"memory/sqlite": side(900.0, missing=1)},
        "burst": {
            "memory/sqlite": side(700.0),
            "memory/postgres": side(650.5),
            "kafka/postgres": side(1234.0, missing=2),
        },
        "ratio_received_dapr_jobs_over_builtin": {"p50_ms": 2.5, "p99_ms": 1.1},
    }
    assert summary("reminders", result) == {
        "burst_delivery_p99_s_memory_sqlite": 0.7,
        "burst_delivery_p99_s_memory_postgres": 0.65,
        "burst_delivery_p99_s_kafka": 1.234,
        "burst_delivery_p99_s": 1.234,
        "missing": 3,
        "received_p50_dapr_jobs_over_builtin": 2.5,
    }
