"""The headline of each benchmark's result: a flat `summary` object of its
ratios, so runs can be compared without knowing each result's layout.

Each benchmark keeps its detailed result; this only picks the numbers that
say whether it met its goal. A key is left out when its side did not run.
"""

from collections.abc import Callable
from typing import Any

Picker = Callable[[dict[str, Any]], dict[str, Any]]


def _get(result: dict[str, Any], *path: str) -> Any:
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _create(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "create_vs_raw": result.get("ratio_api_over_raw"),
        "create_p99_vs_raw": result.get("ratio_p99_api_over_raw"),
        "server_cpu_ms_per_create": result.get("server_cpu_ms_per_task"),
        "create_vs_raw_workers": result.get("ratio_workers_over_raw"),
        "create_p99_vs_raw_workers": result.get("ratio_p99_workers_over_raw"),
        "workers_vs_one_worker": result.get("ratio_workers_over_one_worker"),
        "errors": result.get("errors", 0),
    }


def _relay(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "relay_vs_producer": result.get("ratio_kafka_over_producer"),
        "relay_vs_batch_producer": result.get("ratio_kafka_over_batch_producer"),
        "relay_vs_sequential_floor": result.get("ratio_kafka_over_sequential_floor"),
        "relay_spread_vs_producer": result.get("ratio_spread_over_producer"),
        "relay_memory_vs_db_floor": result.get("ratio_memory_over_db_floor"),
    }


def _purge(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "idle_purge_vs_scan": result.get("idle_purge_vs_scan"),
        "purge_vs_raw_delete": result.get("purge_vs_raw_delete"),
    }


def _events(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "kafka_p99_vs_raw": _get(result, "kafka_target", "ratio_p99_kafka_over_raw"),
    }


def _assistant(result: dict[str, Any]) -> dict[str, Any]:
    return {
        # A model turn's own work up to `done` (its storage on the stream's path
        # included), over the model's own time in the turn; then over the tool call.
        "chat_overhead": _get(result, "turns", "added_over_model"),
        "chat_overhead_vs_tool_call": _get(result, "turns", "added_by_model_turn"),
        "chat_offline_overhead": _get(result, "turns", "added_by_offline_turn"),
        "chat_loop_overhead": _get(result, "turns", "added_by_model_loop"),
        "parser_per_s": _get(result, "parser", "per_second"),
    }


def _mcp(result: dict[str, Any]) -> dict[str, Any]:
    ratios = result.get("ratios") or {}
    return {f"mcp_{key}": value for key, value in ratios.items()}


def _reminders(result: dict[str, Any]) -> dict[str, Any]:
    """The burst's p99 delivery delay per backend (`memory_sqlite`, …) and
    the worst of them; what went missing in every run."""
    picked: dict[str, Any] = {}
    worst: float | None = None
    missing = 0
    for name, side in (result.get("burst") or {}).items():
        p99_ms = _get(side, "delay", "received", "p99_ms")
        if p99_ms is not None:
            key = name.replace("/", "_")
            if name.startswith("kafka/"):
                key = "kafka"
            picked[f"burst_delivery_p99_s_{key}"] = round(p99_ms / 1000, 3)
            worst = p99_ms if worst is None else max(worst, p99_ms)
        missing += side.get("missing") or 0
    for side in (result.get("backends") or {}).values():
        missing += side.get("missing") or 0
    picked["burst_delivery_p99_s"] = None if worst is None else round(worst / 1000, 3)
    picked["missing"] = missing if result.get("backends") or result.get("burst") else None
    jobs = result.get("ratio_received_dapr_jobs_over_builtin") or {}
    picked["received_p50_dapr_jobs_over_builtin"] = jobs.get("p50_ms")
    return picked


def _dapr(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "publish_grpc_over_http_p50": _get(result, "publish_grpc_over_http", "p50"),
        "state_grpc_over_http_p50": _get(result, "state", "grpc_over_http", "p50"),
    }


PICKERS: dict[str, Picker] = {
    "create": _create,
    "relay": _relay,
    "purge": _purge,
    "events": _events,
    "assistant": _assistant,
    "mcp": _mcp,
    "reminders": _reminders,
    "dapr": _dapr,
}


def summary(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """The headline ratios of benchmark `name`'s result (None values dropped)."""
    pick = PICKERS.get(name)
    picked = pick(result) if pick is not None else {}
    return {key: value for key, value in picked.items() if value is not None}
