"""The campaign's report: a Markdown page and an SVG plot of throughput and
latency over time with the fault windows shaded."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.faults.faults import Outcome
from bench.faults.load import Sample


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def outside_faults(samples: Sequence[Sample], outcomes: Sequence[Outcome]) -> list[Sample]:
    """The operations that overlapped no fault window (from a fault's injection
    until every service answered /readyz again)."""
    windows = [(o.start, o.ready) for o in outcomes]
    return [
        s
        for s in samples
        if not any(s.at < end and s.at + s.latency > start for start, end in windows)
    ]


@dataclass
class Bucket:
    at: int
    ops: int
    p50: float
    p99: float


def buckets(samples: Sequence[Sample], width: int = 5) -> list[Bucket]:
    grouped: dict[int, list[float]] = defaultdict(list)
    for s in samples:
        if s.ok:
            grouped[int(s.at // width) * width].append(s.latency)
    if not grouped:
        return []
    return [
        Bucket(
            t,
            len(grouped.get(t, [])),
            percentile(grouped.get(t, []), 0.5),
            percentile(grouped.get(t, []), 0.99),
        )
        for t in range(0, max(grouped) + width, width)
    ]


def svg(
    samples: Sequence[Sample], outcomes: Sequence[Outcome], duration: float, width: int = 5
) -> str:
    rows = buckets(samples, width)
    w, h, pad = 900, 420, 50
    span = max(duration, 1.0)
    top_ops = max([b.ops / width for b in rows] + [1.0])
    top_lat = max([b.p99 * 1000 for b in rows] + [1.0])
    half = (h - 3 * pad) / 2

    def x(t: float) -> float:
        return pad + (w - 2 * pad) * t / span

    def y_ops(v: float) -> float:
        return pad + half - half * v / top_ops

    def y_lat(v: float) -> float:
        return 2 * pad + 2 * half - half * v / top_lat

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
    ]
    for o in outcomes:
        out.append(
            f'<rect x="{x(o.start):.1f}" y="{pad}" '
            f'width="{max(1.0, x(o.ready) - x(o.start)):.1f}" height="{h - 2 * pad}" '
            f'fill="#f4a3a3" opacity="0.45"><title>{o.fault.name}</title></rect>'
        )
        out.append(
            f'<text x="{x(o.start) + 2:.1f}" y="{pad - 4}" fill="#a00" font-size="9">'
            f"{' '.join(o.fault.name.split()[:2])}</text>"
        )
    for label, top, base in (
        (f"successful ops/s (max {top_ops:.0f})", pad, pad + half),
        (
            f"latency p50 (blue) / p99 (orange), ms (max {top_lat:.0f})",
            2 * pad + half,
            2 * pad + 2 * half,
        ),
    ):
        out.append(f'<line x1="{pad}" y1="{base}" x2="{w - pad}" y2="{base}" stroke="#333"/>')
        out.append(f'<line x1="{pad}" y1="{top}" x2="{pad}" y2="{base}" stroke="#333"/>')
        out.append(f'<text x="{pad + 4}" y="{top + 12}">{label}</text>')
    for t in range(0, int(span) + 1, max(10, int(span // 10) // 10 * 10 or 10)):
        out.append(f'<text x="{x(t):.1f}" y="{h - pad + 14}" text-anchor="middle">{t}s</text>')

    def line(points: list[tuple[float, float]], colour: str) -> None:
        if points:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
            )

    line([(x(b.at + width / 2), y_ops(b.ops / width)) for b in rows], "#2a7")
    line([(x(b.at + width / 2), y_lat(b.p50 * 1000)) for b in rows if b.ops], "#27c")
    line([(x(b.at + width / 2), y_lat(b.p99 * 1000)) for b in rows if b.ops], "#e80")
    out.append("</svg>")
    return "\n".join(out)


def markdown(
    *,
    title: str,
    settings: dict[str, str],
    samples: Sequence[Sample],
    outcomes: Sequence[Outcome],
    log: Sequence[str],
    violations: dict[str, list[str]],
    counts: dict[str, int],
    usage: Sequence[str],
    plot: str,
    duration: float,
) -> str:
    ok = [s for s in samples if s.ok]
    lat = [s.latency for s in ok]
    calm = [s.latency for s in outside_faults(ok, outcomes)]
    lines = [f"# {title}", ""]
    lines += [f"- {k}: {v}" for k, v in settings.items()]
    lines += [
        "",
        "## Load",
        "",
        f"- operations: {len(samples)} ({len(ok)} succeeded, "
        f"{len(samples) - len(ok)} failed after retries)",
        f"- throughput: {len(ok) / max(duration, 1e-9):.1f} ops/s over {duration:.0f} s",
        f"- latency (all successful operations): p50 {percentile(lat, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(lat, 0.99) * 1000:.0f} ms",
        f"- latency outside the fault windows ({len(calm)} successful operations that overlapped "
        f"no fault, injection to ready): p50 {percentile(calm, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(calm, 0.99) * 1000:.0f} ms",
        "",
        "| operation | count | ok | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    by_op: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_op[s.op].append(s)
    for op, group in sorted(by_op.items()):
        good = [s.latency for s in group if s.ok]
        lines.append(
            f"| {op} | {len(group)} | {len(good)} | {percentile(good, 0.5) * 1000:.0f} | "
            f"{percentile(good, 0.99) * 1000:.0f} |"
        )
    lines += ["", "Observed by the checker:", ""]
    lines += [f"- {k}: {v}" for k, v in counts.items()]
    lines += ["", "CPU and memory by process:", "", *usage]
    lines += [
        "",
        "## Faults",
        "",
        "Recovery: *ready* is from the injection until every service answered `/readyz` again; "
        "*end to end* is from the injection until a change made afterwards was in the audit trail.",
        "",
        "| fault | injected at | held | ready after | end to end |",
        "|---|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.fault.name} | {o.start:.1f} s | {o.fault.hold:.0f} s | "
            f"{o.ready - o.start:.1f} s | {o.recovered - o.start:.1f} s |"
        )
    if not outcomes:
        lines.append("| (faults off) | | | | |")
    lines += ["", "Timeline:", "", *[f"- {entry}" for entry in log]]
    lines += ["", "## Invariants", "", "| invariant | violations |", "|---|---:|"]
    for name, problems in violations.items():
        lines.append(f"| {name} | {len(problems)} |")
    shown = [(n, p) for n, ps in violations.items() for p in ps[:20]]
    if shown:
        lines += ["", "First violations:", ""]
        lines += [f"- {n}: {p}" for n, p in shown]
    lines += [
        "",
        "## Throughput and latency over time",
        "",
        f"![throughput and latency]({plot})",
        "",
    ]
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


__all__ = ["buckets", "markdown", "percentile", "svg", "write"]
