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


def test_the_dapr_summary_gives_grpc_over_http_for_publishing_and_for_state() -> None:
    result = {
        "publish_grpc_over_http": {"p50": 0.63, "p90": 0.7, "p99": 0.8},
        "state": {"grpc_over_http": {"p50": 0.58, "p90": 0.67, "p99": 1.1}},
    }
    assert summary("dapr", result) == {
        "publish_grpc_over_http_p50": 0.63,
        "state_grpc_over_http_p50": 0.58,
    }
    not_run = {"publish_grpc_over_http": None, "state": {"not_run": "no Redis"}}
    assert summary("dapr", not_run) == {}


def test_the_relay_summary_gives_both_kafka_runs_over_the_producer() -> None:
    result = {
        "ratio_kafka_over_producer": 0.57,
        "ratio_kafka_over_batch_producer": 0.29,
        "ratio_kafka_over_sequential_floor": 1.1,
        "ratio_memory_over_db_floor": 0.24,
        "ratio_spread_over_producer": 0.41,
    }
    assert summary("relay", result) == {
        "relay_vs_producer": 0.57,
        "relay_vs_batch_producer": 0.29,
        "relay_vs_sequential_floor": 1.1,
        "relay_memory_vs_db_floor": 0.24,
        "relay_spread_vs_producer": 0.41,
    }
