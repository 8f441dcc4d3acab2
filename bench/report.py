"""The readable report printed at the end of a run."""

from typing import Any


def _drains(drains: list[float | None]) -> str:
    return ", ".join("never" if d is None else f"{d:.2f} s" for d in drains)


def _create(result: dict[str, Any]) -> list[str]:
    cfg = result["config"]
    mem = result["server_memory"]
    verdict = "met" if result["meets_target"] else "NOT met"
    lines = [
        f"Task creation: {cfg['tasks']:,} tasks x {cfg['rounds']} round(s) per side, "
        f"concurrency {cfg['concurrency']}, after {cfg['warmup']} warm-up",
        f"  {'side':<28}{'per s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}",
    ]
    for r in result["rounds"]:
        label = {
            "raw": "raw asyncpg (task + outbox)",
            "api": "API POST /api/tasks",
            "api-kafka": "API, 1 worker (Kafka, Redis)",
            "api-workers": f"API, {result.get('workers')} workers (Kafka, Redis)",
        }[r["side"]]
        lat = r["latency"]
        lines.append(
            f"  {label:<28}{r['per_second']:>9,.0f}{lat['p50_ms']:>9.1f}{lat['p95_ms']:>9.1f}"
            f"{lat['p99_ms']:>9.1f}"
        )
    lines += [
        f"  median: API {result['api_tasks_per_s']:,.0f} tasks/s, raw "
        f"{result['raw_rows_per_s']:,.0f} tasks/s -> API/raw = {result['ratio_api_over_raw']:.2f}"
        f" (target >= {result['target_ratio']:.2f}: {verdict}); p99 API/raw ="
        f" {result['ratio_p99_api_over_raw']:.2f} (target <= {result['target_p99_ratio']:.0f})",
        f"  API process: peak RSS {mem['peak_rss_hwm_mib']} MiB (sampled max "
        f"{mem['peak_rss_sampled_mib']} MiB); CPU {result['server_cpu_ms_per_task']} ms per task"
        f" in the API, {result['client_cpu_ms_per_api_task']} ms in the load generator",
        f"  outbox relay caught up {_drains(result['relay_drain_s_after_round'])}"
        " after the last create of each API round",
    ]
    if "workers" in result:
        workers = result["workers_server_memory"]
        lines.append(
            f"  {result['workers']} workers: {result['workers_tasks_per_s']:,.0f} tasks/s -> "
            f"API/raw = {result['ratio_workers_over_raw']:.2f}, p99 API/raw = "
            f"{result['ratio_p99_workers_over_raw']:.2f}; "
            f"{result['ratio_workers_over_one_worker']:.2f}x one worker on Kafka and Redis; CPU "
            f"{result['workers_server_cpu_ms_per_task']} ms per task; peak RSS "
            f"{workers['peak_rss_hwm_mib']} MiB over {workers['processes']} processes"
        )
    return lines


def _search(result: dict[str, Any]) -> list[str]:
    spec = result["config"]["seed"]
    seed = result["seed"]
    how = "reused" if seed["reused"] else f"seeded in {seed['seconds']:.0f} s"
    lines = [
        f"List and search: heavy user with {spec['heavy_tasks']:,} of {spec['total_tasks']:,} "
        f"tasks ({spec['users']:,} users, {how}); {result['config']['repeats']} runs each",
        f"  {'request':<34}{'matches':>8}{'api p50':>9}{'api p95':>9}{'raw p50':>9}"
        f"{'raw p95':>9}{'p95 x':>7}  same",
    ]
    for c in result["cases"]:
        api, raw = c["api"], c["raw"]
        flag = ""
        if c["ratio_p95"] > result["target_search_ratio_p95"]:
            flag = "  <- over target" if c["search"] else "  <- over 3x (no target)"
        lines.append(
            f"  {c['name']:<34}{c['matches']:>8,}{api['p50_ms']:>9.2f}{api['p95_ms']:>9.2f}"
            f"{raw['p50_ms']:>9.2f}{raw['p95_ms']:>9.2f}{c['ratio_p95']:>7.2f}  "
            f"{'yes' if c['same_result'] else 'NO'}{flag}"
        )
    mem = result["server_memory"]
    lines += [
        f"  (ms; 'p95 x' = API p95 / raw p95; target for search: <= "
        f"{result['target_search_ratio_p95']:.0f}x; 'same' = same total and page ids)",
        f"  API process: peak RSS {mem['peak_rss_hwm_mib']} MiB",
    ]
    return lines


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    if "create" in results["benchmarks"]:
        lines += [*_create(results["benchmarks"]["create"]), ""]
    if "search" in results["benchmarks"]:
        lines += [*_search(results["benchmarks"]["search"]), ""]
    env = results["environment"]
    lines.append(
        f"total run time {results['seconds']:.0f} s; load average "
        f"{env['load_average_at_start'][0]:.1f} at start, "
        f"{env['load_average_at_end'][0]:.1f} at end ({env['cpus']} CPUs)"
    )
    return "\n".join(lines)
