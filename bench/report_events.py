"""The readable report of the event benchmarks (events, relay, reminders,
occurrences). Each benchmark logs its own table when it ends;
`python -m bench.report_events bench/results/<file>.json` prints them again."""

import json
import sys
from pathlib import Path
from typing import Any


def _met(flag: bool) -> str:
    return "met" if flag else "NOT met"


COLUMNS = ("p50_ms", "p95_ms", "p99_ms", "max_ms")


def _ms(lat: dict[str, Any] | None, *keys: str) -> str:
    keys = keys or COLUMNS
    if lat is None:
        return "".join(f"{'-':>9}" for _ in keys)
    return "".join(f"{lat[k]:>9.1f}" for k in keys)


def render_events(result: dict[str, Any]) -> list[str]:
    cfg = result["config"]
    lines = [
        f"Event latency, commit -> consumer handled (task.created via POST /api/tasks; "
        f"{cfg['samples']} per side, one at a time, blocks of {cfg['block']} alternating)",
        f"  {'backend':<17}{'side':<26}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}"
        f"   {'from response p50/p99':>22}  lost",
    ]
    for name, backend in result["backends"].items():
        label = name
        for side, s in backend["sides"].items():
            resp = s["response_to_handled"]
            tail = "-" if resp is None else f"{resp['p50_ms']:.1f} / {resp['p99_ms']:.1f}"
            lines.append(
                f"  {label:<17}{side:<26}{_ms(s['commit_to_handled'])}   {tail:>22}  {s['missing']}"
            )
            label = ""
        if "raw_round_trip" in backend:
            lines.append(
                f"  {'':<17}{'raw aiokafka round trip':<26}"
                f"{_ms(backend['raw_round_trip'])}"
                f"   {'(send -> fetched)':>22}  {backend['message_bytes']} B"
            )
        if backend.get("cut_short"):
            lines.append(f"  {'':<17}(cut short by the time budget)")
    lines += [
        "  (ms; commit = the unit of work's notify after COMMIT; control = the relay not woken,",
        "  so each event waits for its poll: one at a time, requests fall in step with the poll)",
    ]
    target = result.get("kafka_target")
    if target:
        lines.append(
            f"  Kafka target: p99 {target['kafka_p99_ms']:.1f} ms <= 3 x raw p99 "
            f"{target['raw_p99_ms']:.1f} ms + poll = {target['limit_ms']:.0f} ms: "
            f"{_met(target['meets'])}; Kafka/raw p99 = {target['ratio_p99_kafka_over_raw']:.2f}, "
            f"p50 = {target['ratio_p50_kafka_over_raw']:.2f}; without the poll allowance: "
            f"{_met(target['meets_without_poll_allowance'])}"
        )
    elif "kafka_skipped" in result:
        lines.append(f"  Kafka skipped: {result['kafka_skipped']}")
    for name, w in result.get("wakes_on_commit", {}).items():
        lines.append(
            f"  wakes on commit, {name}: p99 with the long poll {w['p99_long_poll_ms']:.1f} ms"
            f" (< {w['limit_ms']:.0f} ms: {_met(w['meets'])}); long/default p50 "
            f"{w['p50_long_over_default']:.2f}, p99 {w['p99_long_over_default']:.2f}"
        )
    return lines


def render_relay(result: dict[str, Any]) -> list[str]:
    cfg = result["config"]
    size = result["payload_bytes"]
    lines = [
        f"Outbox relay throughput on PostgreSQL: {cfg['events']:,} events of "
        f"{size['median']:.0f} B over {cfg['users']} users, batch {cfg['batch_size']}, "
        f"{cfg['rounds']} round(s)",
        f"  {'side':<40}{'events/s (median)':>18}{'CPU us/event':>14}",
    ]
    for side, rate in result["median_per_second"].items():
        if rate is None:
            continue
        cpu = [r["cpu_us_per_event"] for r in result["runs"] if r["side"] == side]
        lines.append(f"  {side:<40}{rate:>18,.0f}{sorted(cpu)[len(cpu) // 2]:>14.1f}")
    lines.append(f"  relay -> memory / database floor = {result['ratio_memory_over_db_floor']:.2f}")
    if "ratio_kafka_over_producer" in result:
        lines += [
            f"  relay -> Kafka / producer floor = {result['ratio_kafka_over_producer']:.2f};"
            f" / sequential floor ({result['sequential_floor_per_second']:,.0f} events/s) = "
            f"{result['ratio_kafka_over_sequential_floor']:.2f}",
            f"  relay -> Kafka, every event from a user of its own / producer floor = "
            f"{result['ratio_spread_over_producer']:.2f}",
        ]
        if "ratio_kafka_over_batch_producer" in result:
            lines.append(
                f"  relay -> Kafka / producer floor sending record batches = "
                f"{result['ratio_kafka_over_batch_producer']:.2f}"
            )
    else:
        lines.append(f"  Kafka skipped: {result.get('kafka_skipped')}")
    lines.append("  (CPU: this process, where the relay or floor runs; the issue sets no target)")
    return lines


def render_reminders(result: dict[str, Any]) -> list[str]:
    cfg = result["config"]
    lines = [
        f"Reminder firing delay (actual - scheduled): {cfg['reminders']:,} reminders on "
        f"whole seconds over {cfg['spread_s']} s, memory bus",
        f"  {'backend':<20}{'measured at':<22}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}",
    ]
    for name, b in result["backends"].items():
        label = name
        for what, lat in [*b["delay"].items(), ("asyncio timer (floor)", b["timer_floor"])]:
            lines.append(f"  {label:<20}{what:<22}{_ms(lat)}")
            label = ""
        lines.append(
            f"  {'':<20}fed in {b['feed_seconds']:.1f} s, first due {b['lead_after_feeding_s']:.1f}"
            f" s later; {b['fired_events']:,} fired, {b['missing']} missing, "
            f"{b['redeliveries_seen']} redelivered; within {result['target_s']:.0f} s: "
            f"fired {_met(b['meets_target_fired'])}, received {_met(b['meets_target_received'])}"
        )
    burst = result.get("burst") or {}
    if burst:
        lines += [
            f"Burst: {cfg['burst_reminders']:,} reminders due in the same second",
            f"  {'backend':<17}{'measured at':<22}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}",
        ]
        for name, b in burst.items():
            label = name
            for what, lat in b["delay"].items():
                lines.append(f"  {label:<17}{what:<22}{_ms(lat)}")
                label = ""
            lines.append(
                f"  {'':<17}{b['fired_events']:,} fired, {b['missing']} missing, "
                f"{b['redeliveries_seen']} redelivered; received within "
                f"{result['target_s']:.0f} s: {_met(b['meets_target_received'])}"
            )
    lines += [
        "  (ms; fired_at = what the event says: the start of the scheduler's pass; event_time ="
        " built",
        "  right after the row's claim; received = a subscriber on reminder-events; inbox = the"
        " in-app",
        "  notification stored)",
    ]
    ratios = result.get("ratio_received_dapr_jobs_over_builtin")
    if ratios:
        lines.append(
            "  received, dapr-jobs / builtin (both PostgreSQL): "
            + ", ".join(f"{q.removesuffix('_ms')} {r}" for q, r in ratios.items())
        )
    for name, why in result.get("not_run", {}).items():
        lines.append(f"  {name}: not run: {why}")
    return lines


def render_occurrences(result: dict[str, Any]) -> list[str]:
    cfg = result["config"]
    lines = [
        f"Completion -> next occurrence visible: {cfg['completions']} completions of a daily "
        f"task, one at a time, GET /api/tasks?status=active polled every 5 ms",
        f"  {'backend':<17}{'measured':<36}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}",
    ]
    for name, b in result["backends"].items():
        c = b["completions"]
        rows = [
            ("response -> listed by the API", c["response_to_visible"]),
            ("commit -> listed by the API", c["commit_to_visible"]),
            ("response -> task.created handled", c["response_to_created_handled"]),
            ("one hop: create -> handled", b["one_hop_create"]["response_to_handled"]),
        ]
        if "raw_round_trip" in b:
            rows.append(("raw aiokafka round trip", b["raw_round_trip"]))
        label = name
        for what, lat in rows:
            lines.append(f"  {label:<17}{what:<36}{_ms(lat)}")
            label = ""
        extra = ""
        if "ratio_visible_over_two_raw_round_trips" in b:
            r = b["ratio_visible_over_two_raw_round_trips"]
            extra = f"; / two raw round trips p50 {r['p50']:.1f}, p99 {r['p99']:.1f}"
        hop = b.get("ratio_visible_over_one_hop", {})
        lines.append(
            f"  {'':<17}visible / one hop: p50 {hop.get('p50', float('nan')):.1f}, p99 "
            f"{hop.get('p99', float('nan')):.1f}{extra}; {c['gets_per_completion']} GETs each,"
            f" {c['missing']} missing{' (cut short)' if b.get('cut_short') else ''}"
        )
    lines.append("  (ms; no target in the issue)")
    return lines


RENDERERS = {
    "events": render_events,
    "relay": render_relay,
    "reminders": render_reminders,
    "occurrences": render_occurrences,
}


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    for name, renderer in RENDERERS.items():
        if name in results["benchmarks"]:
            lines += [*renderer(results["benchmarks"][name]), ""]
    env = results["environment"]
    lines.append(
        f"total run time {results.get('seconds', 0):.0f} s; load average "
        f"{env['load_average_at_start'][0]:.1f} at start, "
        f"{env.get('load_average_at_end', [float('nan')])[0]:.1f} at end ({env['cpus']} CPUs)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(render(json.loads(Path(path).read_text())))
