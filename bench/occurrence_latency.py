"""Occurrences: completing a recurring task → its next occurrence visible.

The whole system runs in this process (`bench.system`). One user completes a
daily task through `POST /api/tasks/{id}/complete`, then polls `GET
/api/tasks?status=active` until the next occurrence is listed; then completes
that one, and so on. The chain behind it: task.completed → recurring-task
(`task.occurrence.generated`) → task-api inserts the occurrence (visible) and
publishes `task.created` with `previous_task_id`, which a recording
subscription of the benchmark's own also times.

Baseline in the same run and system: one hop, a plain `POST /api/tasks` to
its `task.created` handled (as in the events benchmark), in blocks
interleaved with the completions; the occurrence needs two hops through the
bus before it is visible. On Kafka the raw aiokafka round trip is measured
too, interleaved the same way. The issue sets no number for this one.
"""

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from bench.common import Stopwatch, ratio, runner_of
from bench.events_latency import Driver, EventsConfig, Samples, encoded_event
from bench.kafka_floor import BenchTopic, RoundTrip, kafka_servers
from bench.latency import latency, latency_or_none
from bench.report_events import render_occurrences
from bench.system import (
    KAFKA_POSTGRES,
    MEMORY_POSTGRES,
    MEMORY_SQLITE,
    Backend,
    Recorder,
    System,
    task_created_id,
)
from events.bus import Subscription
from events.cloudevents import CloudEvent
from events.topics import Topic

DATABASE = "todo_bench_occurrences"
WAIT_LIMIT = 20.0
POLL_GAP = 0.005
COMPLETE = "complete -> next visible"
CREATE = "create -> task.created handled (one hop)"
RAW = "raw aiokafka round trip"


@dataclass(frozen=True, slots=True)
class OccurrenceConfig:
    completions: int
    block: int
    warmup: int
    budget_s: float = 300.0


FULL = OccurrenceConfig(completions=100, block=25, warmup=5)
QUICK = OccurrenceConfig(completions=15, block=15, warmup=2, budget_s=60.0)


def next_of(event: CloudEvent) -> str | None:
    """The completed task a `task.created` follows, for occurrences only."""
    if event.type != "task.created":
        return None
    previous = event.data.get("previous_task_id")
    return None if previous is None else str(previous)


@dataclass
class Completions:
    visible: list[float] = field(default_factory=list)  # response → listed by the API
    commit_visible: list[float] = field(default_factory=list)  # completion commit → listed
    handled: list[float] = field(default_factory=list)  # response → task.created handled
    polls: list[int] = field(default_factory=list)
    missing: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "response_to_visible": latency_or_none(self.visible),
            "commit_to_visible": latency_or_none(self.commit_visible),
            "response_to_created_handled": latency_or_none(self.handled),
            "gets_per_completion": (
                round(sum(self.polls) / len(self.polls), 1) if self.polls else None),
            "missing": self.missing,
        }


class Series:
    """One daily task, completed again and again."""

    def __init__(
        self, system: System, recorder: Recorder, client: httpx.AsyncClient,
        headers: dict[str, str],
    ) -> None:
        self._system = system
        self._recorder = recorder
        self._client = client
        self._headers = headers
        self._rng = random.Random(13)
        self.current = ""
        self.series_id = ""

    async def begin(self) -> None:
        tomorrow = date.today() + timedelta(days=1)
        response = await self._client.post("/api/tasks", headers=self._headers, json={
            "title": "Water the plants", "description": "The ones on the balcony too.",
            "priority": "medium", "tags": ["home"], "due_at": f"{tomorrow}T09:00:00",
            "recurrence_rule": "FREQ=DAILY",
        })
        if response.status_code != 201:
            raise RuntimeError(f"create: {response.status_code} {response.text[:300]}")
        self.current = str(response.json()["id"])
        self.series_id = str(response.json()["series_id"])

    async def _listed_next(self) -> str | None:
        response = await self._client.get(
            "/api/tasks", headers=self._headers, params={"status": "active"})
        if response.status_code != 200:
            raise RuntimeError(f"list: {response.status_code} {response.text[:300]}")
        following = [
            str(item["id"]) for item in response.json()["items"]
            if str(item["series_id"]) == self.series_id and str(item["id"]) != self.current
        ]
        return following[0] if following else None

    async def one(self, into: Completions) -> None:
        clock = self._system.clock
        assert clock is not None
        start = time.perf_counter()
        response = await self._client.post(
            f"/api/tasks/{self.current}/complete", headers=self._headers)
        answered = time.perf_counter()
        if response.status_code != 200:
            raise RuntimeError(f"complete: {response.status_code} {response.text[:300]}")
        following, polls = None, 0
        while following is None and time.perf_counter() - answered < WAIT_LIMIT:
            polls += 1
            following = await self._listed_next()
            if following is None:
                await asyncio.sleep(POLL_GAP)
        visible = time.perf_counter()
        handled = await self._recorder.wait(self.current, WAIT_LIMIT)
        committed = clock.first_after(start)
        if following is None or handled is None or committed is None:
            into.missing += 1
            if following is None:
                raise RuntimeError(f"no next occurrence of {self.current} in {WAIT_LIMIT} s")
        else:
            into.visible.append(visible - answered)
            into.commit_visible.append(visible - committed)
            into.handled.append(handled - answered)
            into.polls.append(polls)
        self.current = following
        await asyncio.sleep(self._rng.uniform(0.005, 0.03))


async def _backend(
    backend: Backend, cfg: OccurrenceConfig, kafka: str | None, log: Callable[[str], None]
) -> dict[str, Any]:
    occurrences = Recorder(next_of)
    created = Recorder(task_created_id)
    subscriptions = [
        Subscription(Topic.TASK_EVENTS, "bench-occurrences-recorder", occurrences),
        Subscription(Topic.TASK_EVENTS, "bench-created-recorder", created),
    ]
    watch = Stopwatch()
    completions, creates, raw = Completions(), Samples(), []
    cut_short = False
    async with (
        System(backend, DATABASE, subscriptions, kafka=kafka) as system,
        system.client() as client,
    ):
        series = Series(system, occurrences, client, await system.user(client))
        await series.begin()
        # The one-hop baseline creates as another user: the series' list stays short.
        creator = Driver(system, created, client, await system.user(client),
                         EventsConfig(samples=0, block=1, warmup=0, control=0))
        warm_completions, warm_creates = Completions(), Samples()
        for _ in range(cfg.warmup):
            await series.one(warm_completions)
            await creator.one(warm_creates)
        async with contextlib.AsyncExitStack() as stack:
            floor = None
            if backend.bus == "kafka":
                assert kafka is not None
                topic = await stack.enter_async_context(BenchTopic(kafka, "occurrences"))
                floor = await stack.enter_async_context(RoundTrip(kafka, topic))
                key, value = encoded_event(created)
                for _ in range(cfg.warmup):
                    await floor.once(key, value)
            order = [COMPLETE, CREATE, *([RAW] if floor is not None else [])]
            for round_no in range(-(-cfg.completions // cfg.block)):
                n = min(cfg.block, cfg.completions - round_no * cfg.block)
                shift = round_no % len(order)
                for name in order[shift:] + order[:shift]:
                    for _ in range(n):
                        if name == COMPLETE:
                            await series.one(completions)
                        elif name == CREATE:
                            await creator.one(creates)
                        else:
                            assert floor is not None
                            raw.append(await floor.once(key, value))
                            await creator.pause()
                done = min(cfg.completions, (round_no + 1) * cfg.block)
                log(f"  {backend.name}: {done}/{cfg.completions} completions"
                    f" ({watch.elapsed:.0f} s)")
                if watch.elapsed > cfg.budget_s and done < cfg.completions:
                    cut_short = True
                    break
    result: dict[str, Any] = {
        "completions": completions.as_dict(),
        "one_hop_create": creates.as_dict(),
        "cut_short": cut_short,
        "seconds": round(watch.elapsed, 1),
    }
    visible, one_hop = result["completions"]["response_to_visible"], result["one_hop_create"]
    if visible and one_hop["response_to_handled"]:
        base = one_hop["response_to_handled"]
        result["ratio_visible_over_one_hop"] = {
            "p50": round(ratio(visible["p50_ms"], base["p50_ms"]), 2),
            "p99": round(ratio(visible["p99_ms"], base["p99_ms"]), 2),
        }
    if raw:
        result["raw_round_trip"] = latency(raw).as_dict()
        rt = result["raw_round_trip"]
        result["ratio_visible_over_two_raw_round_trips"] = {
            "p50": round(ratio(visible["p50_ms"], 2 * rt["p50_ms"]), 2),
            "p99": round(ratio(visible["p99_ms"], 2 * rt["p99_ms"]), 2),
        }
    return result


async def run(cfg: OccurrenceConfig, log: Callable[[str], None]) -> dict[str, Any]:
    kafka, skipped = await kafka_servers()
    result: dict[str, Any] = {"config": asdict(cfg), "backends": {}}
    backends = [MEMORY_SQLITE, MEMORY_POSTGRES, KAFKA_POSTGRES]
    if kafka is None:
        backends.remove(KAFKA_POSTGRES)
        result["kafka_skipped"] = skipped
        log(f"  Kafka sides skipped: {skipped}")
    for backend in backends:
        log(f"  {backend.name}")
        result["backends"][backend.name] = await _backend(backend, cfg, kafka, log)
    return result


runner = runner_of(run, render_occurrences, FULL, QUICK)
