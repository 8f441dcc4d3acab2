"""Dapr: what the real sidecar adds to publishing and to delivery, beside direct aiokafka.

Three paths to the same broker (KAFKA_BOOTSTRAP_SERVERS), measured in the same run in
alternating blocks, one message in flight at a time, after a small random gap:

- dapr-grpc: the same CloudEvent published through the Dapr Python SDK over gRPC
  (`DaprClient.publish_event`, as `events.dapr.DaprBus` does when DAPR_GRPC_PORT is set) to
  the same daprd, its deliveries arriving at the same app;
- Dapr (HTTP): `POST /v1.0/publish/pubsub-kafka/<topic>?metadata.partitionKey=<user>` to a real
  daprd (`Content-Type: application/cloudevents+json`, as `events.dapr.DaprBus` sends it);
  daprd's Kafka consumer delivers each record to a small HTTP app in this process
  (programmatic subscription, `GET /dapr/subscribe`), which answers SUCCESS.
- direct: the same CloudEvent bytes and key through an aiokafka producer configured as
  KafkaBus's (`send_and_wait`), and an aiokafka group consumer in this process.

Publish latency is the time until the publish is acknowledged (daprd's 204, the producer's
ack); delivery latency is from just before the publish to the moment the subscriber has
the event. The added latency is Dapr minus direct, per percentile, for both Dapr paths, and
the gRPC path's publish is also given as a ratio over the HTTP path's; Dapr's published
figures for what its sidecar adds are about 0.5 ms at p90 and 1.2 ms at p99.

With a Redis (TEST_REDIS_URL, else REDIS_URL) the same sidecar also gets the local stack's
`statestore-redis` component, and the assistant's state round trip (save, then load, of a
value the size of a conversation's state) is timed through `events.dapr_state.DaprState`
over the SDK's gRPC and over the HTTP state API, in alternating blocks; the summary gives
the gRPC p50 as a ratio over the HTTP one (`state_grpc_over_http_p50`).

Each run uses two fresh topics (deleted afterwards) and fresh consumer groups that start at
the oldest offset, so a rebalance while the groups form cannot skip a record; daprd runs
with `--log-level info` into a log file, and measuring starts only once a warm-up message
has come through each path.

daprd is the binary of `scripts/dapr.sh` (DAPRD, else the path `scripts/dapr.sh --print`
names). When it is not built, or no broker is configured, the benchmark says so and is
reported as not run.
"""

import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
import yaml  # type: ignore[import-untyped]
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from dapr.aio.clients import DaprClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.common import Stopwatch, percentile_cuts, runner_of
from bench.kafka_floor import PRODUCER_OPTIONS, BenchTopic, kafka_servers
from events.dapr import CLOUDEVENTS_JSON, open_sdk_client
from testsupport.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
PUBSUB = "pubsub-kafka"
APP_ID = "todo-bench-dapr"
ROUTE = "/deliver"
DAPR = "dapr"
DIRECT = "direct"
DAPR_GRPC = "dapr-grpc"
# What Dapr publishes for its sidecar's own cost (p90, p99 added, in ms).
DAPR_PUBLISHED_ADDED_MS = {"p90": 0.5, "p99": 1.2}

LOCAL_PUBSUB = ROOT / "dapr" / "components" / "pubsub-kafka.yaml"


def pubsub_component(brokers: str, consumer_group: str, initial_offset: str = "oldest") -> str:
    """The local stack's `pubsub-kafka` component (dapr/components/pubsub-kafka.yaml) on
    `brokers`, for a consumer group of its own (daprd expands `{appID}` in it), without
    scopes: the YAML of a component file for `--resources-path`."""
    component = yaml.safe_load(LOCAL_PUBSUB.read_text())
    overrides = {
        "brokers": brokers,
        "consumerGroup": consumer_group,
        "clientID": consumer_group,
        "initialOffset": initial_offset,
    }
    items: list[dict[str, str]] = component["spec"]["metadata"]
    for item in items:
        if item["name"] in overrides:
            item["value"] = overrides.pop(item["name"])
    items.extend({"name": name, "value": value} for name, value in overrides.items())
    component.pop("scopes", None)
    return str(yaml.safe_dump(component, sort_keys=False))


LOCAL_STATE_STORE = ROOT / "dapr" / "components" / "statestore-redis.yaml"


def state_store_component(redis_host: str) -> str:
    """The local stack's `statestore-redis` component (dapr/components/statestore-redis.yaml,
    the assistant's conversation state) on the Redis at `redis_host` (host:port)."""
    component = yaml.safe_load(LOCAL_STATE_STORE.read_text())
    for item in component["spec"]["metadata"]:
        if item["name"] == "redisHost":
            item["value"] = redis_host
    return str(yaml.safe_dump(component, sort_keys=False))


def redis_host() -> str | None:
    """host:port of the Redis of the run (TEST_REDIS_URL, else REDIS_URL), or None."""
    url = urlsplit(os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "")
    return f"{url.hostname}:{url.port or 6379}" if url.hostname else None


@dataclass(frozen=True, slots=True)
class DaprConfig:
    samples: int  # per path
    block: int  # samples per block; blocks alternate the paths
    warmup: int  # samples per path after the first delivery, not counted
    gap_ms: tuple[int, int] = (5, 20)
    wait_s: float = 10.0  # a delivery later than this counts as missing
    budget_s: float = 300.0  # a slower run is cut short and says so


FULL = DaprConfig(samples=2000, block=100, warmup=100)
QUICK = DaprConfig(samples=200, block=50, warmup=20, budget_s=60.0)


class NotRun(Exception):
    """The benchmark cannot run here; the message says why."""


def daprd_binary() -> str:
    """The daprd to measure: DAPRD, else the cached build of scripts/dapr.sh."""
    path = os.environ.get("DAPRD", "")
    if not path:
        try:
            out = subprocess.run(  # noqa: S603 - our own script
                [str(ROOT / "scripts" / "dapr.sh"), "--print"],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise NotRun(f"scripts/dapr.sh --print failed: {exc}") from exc
        path = out.stdout.strip()
    if not path or not os.access(path, os.X_OK):
        raise NotRun(f"daprd is not built ({path or 'no path'}): run `make daprd` first")
    return path


def daprd_command(
    daprd: str,
    *,
    app_id: str,
    app_port: int,
    http_port: int,
    resources: Path,
    grpc_port: int | None = None,
    scheduler: str | None = None,
) -> list[str]:
    """daprd in self-hosted mode without placement, in front of the app on `app_port`,
    its HTTP API on `http_port`, its other ports free ones, logging at info; with
    `scheduler` (host:port), connected to that scheduler for the Jobs API."""
    jobs = ["--scheduler-host-address", scheduler] if scheduler else []
    return [
        daprd,
        *jobs,
        "--mode",
        "standalone",
        "--app-id",
        app_id,
        "--app-port",
        str(app_port),
        "--app-protocol",
        "http",
        "--dapr-http-port",
        str(http_port),
        "--dapr-grpc-port",
        str(grpc_port or free_port()),
        "--dapr-internal-grpc-port",
        str(free_port()),
        "--metrics-port",
        str(free_port()),
        "--resources-path",
        str(resources),
        "--placement-host-address",
        "",
        "--log-level",
        "info",
    ]


def daprd_version(daprd: str) -> str:
    out = subprocess.run(  # noqa: S603 - the binary we were given
        [daprd, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    return out.stdout.strip() or out.stderr.strip()


# -- statistics ---------------------------------------------------------------------------------


def percentiles(seconds: Sequence[float]) -> dict[str, float] | None:
    """p50/p90/p99, max and mean in milliseconds, and the sample count."""
    if not seconds:
        return None
    ms = sorted(s * 1000 for s in seconds)
    q = percentile_cuts(ms)
    return {
        "n": len(ms),
        "p50_ms": round(q[49], 3),
        "p90_ms": round(q[89], 3),
        "p99_ms": round(q[98], 3),
        "max_ms": round(ms[-1], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def added(dapr: dict[str, float] | None, direct: dict[str, float] | None) -> dict[str, float]:
    """Dapr minus direct, per percentile, in milliseconds."""
    if dapr is None or direct is None:
        return {}
    return {f"{p}_ms": round(dapr[f"{p}_ms"] - direct[f"{p}_ms"], 3) for p in ("p50", "p90", "p99")}


@dataclass
class Samples:
    publish: list[float] = field(default_factory=list)
    delivery: list[float] = field(default_factory=list)
    missing: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "publish": percentiles(self.publish),
            "delivery": percentiles(self.delivery),
            "missing": self.missing,
        }


# -- the subscriber side ------------------------------------------------------------------------


class Arrivals:
    """When each awaited event id reached its subscriber (perf_counter seconds)."""

    def __init__(self, *, keep: bool = False) -> None:
        self._waiting: dict[str, asyncio.Future[float]] = {}
        self.unexpected = 0
        self._keep = keep
        self.delivered: dict[str, dict[str, Any]] = {}  # with `keep`: each event as delivered

    def expect(self, event_id: str) -> "asyncio.Future[float]":
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[event_id] = future
        return future

    def forget(self, event_id: str) -> None:
        self._waiting.pop(event_id, None)

    def arrived(self, event_id: str, at: float, event: dict[str, Any] | None = None) -> None:
        if self._keep and event is not None:
            self.delivered[event_id] = event
        future = self._waiting.pop(event_id, None)
        if future is None:
            self.unexpected += 1  # an abandoned warm-up, or a redelivery
        elif not future.done():
            future.set_result(at)


def _delivered(body: bytes) -> tuple[str, dict[str, Any] | None]:
    event = json.loads(body)
    return (str(event["id"]), event) if isinstance(event, dict) else ("", None)


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the benchmark keeps Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def subscriber_app(topic: str, arrivals: Arrivals) -> AsyncIterator[int]:
    """The app daprd delivers to, served on a free loopback port in this event loop."""

    async def subscribe(request: Request) -> JSONResponse:
        return JSONResponse([{"pubsubname": PUBSUB, "topic": topic, "route": ROUTE}])

    async def deliver(request: Request) -> JSONResponse:
        event_id, event = _delivered(await request.body())
        arrivals.arrived(event_id, time.perf_counter(), event)
        return JSONResponse({"status": "SUCCESS"})

    app = Starlette(
        routes=[
            Route("/dapr/subscribe", subscribe, methods=["GET"]),
            Route(ROUTE, deliver, methods=["POST"]),
        ]
    )
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(), name="bench-dapr-app")
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the subscriber app exited before it started")
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task


class Sidecar:
    """daprd in self-hosted mode in front of the subscriber app, logging to a file."""

    def __init__(self, daprd: str, workdir: Path, brokers: str, app_port: int) -> None:
        self.daprd = daprd
        self.resources = workdir / "components"
        self.log_path = workdir / "daprd.log"
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.group = f"todo-bench-dapr-{uuid.uuid4().hex[:8]}"
        self.resources.mkdir(parents=True, exist_ok=True)
        (self.resources / "pubsub-kafka.yaml").write_text(pubsub_component(brokers, self.group))
        self.redis = redis_host()
        if self.redis is not None:
            component = yaml.safe_load(state_store_component(self.redis))
            component.pop("scopes", None)  # this app id is not task-api
            (self.resources / "statestore-redis.yaml").write_text(yaml.safe_dump(component))
        self._app_port = app_port
        self._proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> "Sidecar":
        self._spawn()
        try:
            await self._ready()
        except BaseException:
            self._stop()
            raise
        return self

    def _spawn(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own copy
            self._proc = subprocess.Popen(  # noqa: S603 - our own command
                daprd_command(
                    self.daprd,
                    app_id=APP_ID,
                    app_port=self._app_port,
                    http_port=self.http_port,
                    resources=self.resources,
                    grpc_port=self.grpc_port,
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def __aexit__(self, *exc: object) -> None:
        self._stop()

    async def _ready(self, limit: float = 60.0) -> None:
        assert self._proc is not None
        url = f"http://127.0.0.1:{self.http_port}/v1.0/healthz"
        deadline = time.monotonic() + limit
        async with httpx.AsyncClient() as client:
            while True:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"daprd exited ({self._proc.returncode}): {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 204:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daprd not healthy after {limit:.0f} s: {self.tail()}")
                await asyncio.sleep(0.1)

    def _stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


# -- the two paths ------------------------------------------------------------------------------


class DaprPath:
    """Publish through daprd's HTTP API; deliveries arrive at the subscriber app."""

    name = DAPR

    def __init__(self, sidecar: Sidecar, topic: str, arrivals: Arrivals) -> None:
        self.arrivals = arrivals
        self._sidecar = sidecar
        self._path = f"/v1.0/publish/{PUBSUB}/{topic}"
        self._client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{sidecar.http_port}", timeout=10.0
        )

    async def publish(self, key: bytes, value: bytes) -> None:
        response = await self._client.post(
            self._path,
            params={"metadata.partitionKey": key.decode()},
            content=value,
            headers={"Content-Type": CLOUDEVENTS_JSON},
        )
        if response.status_code != 204:
            raise RuntimeError(f"daprd publish: {response.status_code} {response.text[:300]}")

    def diagnose(self) -> str:
        return f"daprd log ({self._sidecar.log_path}):\n{self._sidecar.tail()}"

    async def aclose(self) -> None:
        await self._client.aclose()


class DaprSdkPath:
    """Publish through the Dapr SDK over daprd's gRPC API; deliveries as DaprPath's."""

    name = DAPR_GRPC

    def __init__(self, sidecar: Sidecar, topic: str, arrivals: Arrivals) -> None:
        self.arrivals = arrivals
        self._sidecar = sidecar
        self._topic = topic
        self._client: DaprClient | None = None

    async def start(self) -> None:
        self._client = open_sdk_client(
            http_port=self._sidecar.http_port, grpc_port=self._sidecar.grpc_port
        )

    async def publish(self, key: bytes, value: bytes) -> None:
        assert self._client is not None, "start() first"
        await self._client.publish_event(
            pubsub_name=PUBSUB,
            topic_name=self._topic,
            data=value,
            publish_metadata={"partitionKey": key.decode()},
            data_content_type=CLOUDEVENTS_JSON,
        )

    def diagnose(self) -> str:
        return f"daprd log ({self._sidecar.log_path}):\n{self._sidecar.tail()}"

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]


class DirectPath:
    """An aiokafka producer as KafkaBus's, and a group consumer of a fresh group."""

    name = DIRECT

    def __init__(self, servers: str, topic: str, arrivals: Arrivals) -> None:
        self.arrivals = arrivals
        self._servers = servers
        self._topic = topic
        self._group = f"todo-bench-direct-{uuid.uuid4().hex[:8]}"
        self._producer: Any = None
        self._consumer: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._servers, client_id="todo-bench-direct", **PRODUCER_OPTIONS
        )
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._servers,
            group_id=self._group,
            client_id="todo-bench-direct",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await self._consumer.start()
        self._reader = asyncio.create_task(self._read(), name="bench-direct-reader")

    async def _read(self) -> None:
        # As KafkaBus consumes: fetch a batch, handle record by record, commit each.
        while True:
            batch = await self._consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    self.arrivals.arrived(_delivered(record.value)[0], time.perf_counter())
                    await self._consumer.commit({tp: record.offset + 1})

    async def publish(self, key: bytes, value: bytes) -> None:
        await self._producer.send_and_wait(self._topic, value, key=key)

    def diagnose(self) -> str:
        if self._reader is not None and self._reader.done() and not self._reader.cancelled():
            return f"the consumer stopped: {self._reader.exception()!r}"
        return f"consumer group {self._group} on {self._topic}"

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()


Transport = DaprPath | DaprSdkPath | DirectPath


class Message:
    """task.created-shaped CloudEvents of one user, each with a fresh id."""

    def __init__(self) -> None:
        self.user = str(uuid.uuid4())
        self.key = self.user.encode()
        self._task = str(uuid.uuid4())

    def next(self) -> tuple[str, bytes]:
        event_id = str(uuid.uuid4())
        event = {
            "specversion": "1.0",
            "id": event_id,
            "source": "/todo/task-api",
            "type": "task.created",
            "time": datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
            "subject": self._task,
            "userid": self.user,
            "data": {
                "id": self._task,
                "title": "Pay rent",
                "priority": "high",
                "status": "active",
                "timezone": "Europe/London",
                "due_at": "2030-12-01T09:00:00+00:00",
                "recurrence_rule": "FREQ=MONTHLY;BYMONTHDAY=1",
                "tags": ["home", "money"],
                "version": 1,
            },
        }
        return event_id, json.dumps(event, separators=(",", ":")).encode()


async def one(path: Transport, message: Message, cfg: DaprConfig, into: Samples) -> bool:
    """Publish one event and wait for its delivery; False when it never arrived."""
    event_id, value = message.next()
    arrival = path.arrivals.expect(event_id)
    start = time.perf_counter()
    await path.publish(message.key, value)
    acked = time.perf_counter()
    try:
        async with asyncio.timeout(cfg.wait_s):
            arrived = await arrival
    except TimeoutError:
        path.arrivals.forget(event_id)
        into.missing += 1
        return False
    into.publish.append(acked - start)
    into.delivery.append(arrived - start)
    return True


async def first_delivery(path: Transport, message: Message, limit: float = 90.0) -> float:
    """Publish warm-up events until one is delivered (the consumer group has formed);
    the seconds that took."""
    watch = Stopwatch()
    while True:
        event_id, value = message.next()
        arrival = path.arrivals.expect(event_id)
        await path.publish(message.key, value)
        try:
            async with asyncio.timeout(2.0):
                await arrival
            return watch.elapsed
        except TimeoutError:
            path.arrivals.forget(event_id)
        if watch.elapsed > limit:
            raise RuntimeError(
                f"{path.name}: no warm-up event delivered in {limit:.0f} s; {path.diagnose()}"
            )


async def measure(
    paths: Sequence[Transport], cfg: DaprConfig, log: Callable[[str], None]
) -> tuple[dict[str, Samples], bool]:
    rng = random.Random(5)
    message = Message()

    async def pause() -> None:
        await asyncio.sleep(rng.uniform(*cfg.gap_ms) / 1000)

    for path in paths:
        took = await first_delivery(path, message)
        log(f"  {path.name}: first delivery after {took:.1f} s")
        warm = Samples()
        for _ in range(cfg.warmup):
            await one(path, message, cfg, warm)
            await pause()
        if warm.missing:
            raise RuntimeError(
                f"{path.name}: {warm.missing}/{cfg.warmup} warm-up events never delivered; "
                f"{path.diagnose()}"
            )
    samples = {path.name: Samples() for path in paths}
    watch = Stopwatch()
    cut_short = False
    rounds = -(-cfg.samples // cfg.block)
    for round_no in range(rounds):
        n = min(cfg.block, cfg.samples - round_no * cfg.block)
        shift = round_no % len(paths)
        for path in [*paths[shift:], *paths[:shift]]:
            streak = 0
            for _ in range(n):
                streak = 0 if await one(path, message, cfg, samples[path.name]) else streak + 1
                if streak >= 3:
                    raise RuntimeError(
                        f"{path.name}: 3 events in a row never delivered; {path.diagnose()}"
                    )
                await pause()
        done = min(cfg.samples, (round_no + 1) * cfg.block)
        log(f"  {done:,}/{cfg.samples:,} per path ({watch.elapsed:.0f} s)")
        if watch.elapsed > cfg.budget_s and done < cfg.samples:
            cut_short = True
            break
    return samples, cut_short


STATE_GRPC = "state-grpc"
STATE_HTTP = "state-http"


async def measure_state(
    sidecar: "Sidecar", cfg: DaprConfig, log: Callable[[str], None]
) -> dict[str, Any]:
    """The assistant's state round trip (save, then load) through the same sidecar and Redis,
    over the SDK's gRPC and over the HTTP state API (`events.dapr_state.DaprState`), in
    alternating blocks; a value of the size of a conversation's state."""
    from events.dapr_state import DaprState

    stores = {
        STATE_GRPC: DaprState(
            store="statestore-redis", http_port=sidecar.http_port, grpc_port=sidecar.grpc_port
        ),
        STATE_HTTP: DaprState(store="statestore-redis", http_port=sidecar.http_port),
    }
    value = json.dumps(
        {
            "user_id": str(uuid.uuid4()),
            "listing": [{"id": str(uuid.uuid4()), "title": f"task {n}"} for n in range(20)],
        }
    ).encode()
    expected = json.loads(value)
    seconds: dict[str, list[float]] = {name: [] for name in stores}
    try:
        for name, store in stores.items():  # warm: connections open, the SDK client built
            for _ in range(cfg.warmup):
                await store.save(f"bench-warm-{name}", value, ttl_seconds=60)
                await store.get(f"bench-warm-{name}")
        rounds = -(-cfg.samples // cfg.block)
        for round_no in range(rounds):
            order = list(stores.items())
            if round_no % 2:
                order.reverse()
            for name, store in order:
                for _ in range(min(cfg.block, cfg.samples - round_no * cfg.block)):
                    key = f"bench-{uuid.uuid4().hex}"
                    started = time.perf_counter()
                    await store.save(key, value, ttl_seconds=60)
                    back = await store.get(key)
                    if back is None or json.loads(back) != expected:
                        raise RuntimeError(f"{name}: the state read back is not what was saved")
                    seconds[name].append(time.perf_counter() - started)
        log(f"  state: {cfg.samples:,} round trips per path")
    finally:
        for store in stores.values():
            await store.aclose()
    paths = {name: percentiles(taken) for name, taken in seconds.items()}
    grpc, http = paths[STATE_GRPC], paths[STATE_HTTP]
    return {
        "paths": paths,
        "value_bytes": len(value),
        "grpc_over_http": (
            {p: round(grpc[f"{p}_ms"] / http[f"{p}_ms"], 3) for p in ("p50", "p90", "p99")}
            if grpc and http
            else None
        ),
    }


async def run(cfg: DaprConfig, log: Callable[[str], None]) -> dict[str, Any]:
    result: dict[str, Any] = {"config": asdict(cfg)}
    try:
        daprd = daprd_binary()
    except NotRun as exc:
        result["not_run"] = str(exc)
        return result
    servers, skipped = await kafka_servers()
    if servers is None:
        result["not_run"] = f"no Kafka broker: {skipped}"
        return result
    result["daprd"] = {"binary": daprd, "version": daprd_version(daprd)}
    result["broker"] = servers
    result["load_average_at_start"] = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="todo-bench-dapr-"))
    keep_logs = False
    watch = Stopwatch()
    try:
        async with contextlib.AsyncExitStack() as stack:
            dapr_topic = await stack.enter_async_context(BenchTopic(servers, "dapr"))
            direct_topic = await stack.enter_async_context(BenchTopic(servers, "direct"))
            dapr_arrivals, direct_arrivals = Arrivals(), Arrivals()
            app_port = await stack.enter_async_context(subscriber_app(dapr_topic, dapr_arrivals))
            sidecar = await stack.enter_async_context(Sidecar(daprd, workdir, servers, app_port))
            dapr_path = DaprPath(sidecar, dapr_topic, dapr_arrivals)
            stack.push_async_callback(dapr_path.aclose)
            # Same sidecar, topic and subscriber: only the publish API differs.
            sdk_path = DaprSdkPath(sidecar, dapr_topic, dapr_arrivals)
            stack.push_async_callback(sdk_path.aclose)
            await sdk_path.start()
            direct_path = DirectPath(servers, direct_topic, direct_arrivals)
            stack.push_async_callback(direct_path.aclose)
            await direct_path.start()
            result["topics"] = {DAPR: dapr_topic, DIRECT: direct_topic}
            result["consumer_group"] = sidecar.group
            samples, cut_short = await measure([dapr_path, sdk_path, direct_path], cfg, log)
            if sidecar.redis is not None:
                result["state"] = await measure_state(sidecar, cfg, log)
            else:
                result["state"] = {"not_run": "no Redis: set TEST_REDIS_URL or REDIS_URL"}
            result["redeliveries_or_late"] = {
                DAPR: dapr_arrivals.unexpected,
                DIRECT: direct_arrivals.unexpected,
            }
    except Exception:
        keep_logs = True
        log(f"  daprd's log is kept in {workdir}")
        raise
    finally:
        if not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
    result["paths"] = {name: s.as_dict() for name, s in samples.items()}
    result["added"] = {
        kind: added(result["paths"][DAPR][kind], result["paths"][DIRECT][kind])
        for kind in ("publish", "delivery")
    }
    result["added_grpc"] = {
        kind: added(result["paths"][DAPR_GRPC][kind], result["paths"][DIRECT][kind])
        for kind in ("publish", "delivery")
    }
    http_pub, grpc_pub = result["paths"][DAPR]["publish"], result["paths"][DAPR_GRPC]["publish"]
    result["publish_grpc_over_http"] = (
        {p: round(grpc_pub[f"{p}_ms"] / http_pub[f"{p}_ms"], 3) for p in ("p50", "p90", "p99")}
        if http_pub and grpc_pub
        else None
    )
    result["dapr_published_added_ms"] = DAPR_PUBLISHED_ADDED_MS
    result["cut_short"] = cut_short
    result["load_average_at_end"] = os.getloadavg()
    result["seconds"] = round(watch.elapsed, 1)
    return result


def render(result: dict[str, Any]) -> list[str]:
    if "not_run" in result:
        return [f"Dapr sidecar latency: NOT RUN: {result['not_run']}"]
    cfg = result["config"]
    lines = [
        f"Dapr sidecar latency ({result['daprd']['version']}) vs direct aiokafka, "
        f"{cfg['samples']:,} per path in blocks of {cfg['block']}"
        f"{' (cut short)' if result['cut_short'] else ''}",
        f"  {'ms':<22}{'n':>6}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}  missing",
    ]
    for kind in ("publish", "delivery"):
        for name in (DIRECT, DAPR, DAPR_GRPC):
            s = result["paths"][name][kind]
            label = f"{kind} {name}"
            if s is None:
                lines.append(f"  {label:<22}  no samples")
                continue
            lines.append(
                f"  {label:<22}{s['n']:>6}{s['p50_ms']:>9.2f}{s['p90_ms']:>9.2f}"
                f"{s['p99_ms']:>9.2f}{s['max_ms']:>9.2f}  {result['paths'][name]['missing']}"
            )
        for label, key in (("added by Dapr", "added"), ("added (gRPC)", "added_grpc")):
            add = result.get(key, {}).get(kind)
            if add:
                lines.append(
                    f"  {kind + ' ' + label:<22}{'':>6}{add['p50_ms']:>9.2f}"
                    f"{add['p90_ms']:>9.2f}{add['p99_ms']:>9.2f}"
                )
    ratio = result.get("publish_grpc_over_http")
    if ratio:
        lines.append(
            f"  publish gRPC/HTTP ratio: p50 {ratio['p50']:.2f}, p90 {ratio['p90']:.2f},"
            f" p99 {ratio['p99']:.2f}"
        )
    state = result.get("state") or {}
    if "not_run" in state:
        lines.append(f"  state round trip: NOT RUN: {state['not_run']}")
    elif state:
        for name, p in state["paths"].items():
            if p:
                lines.append(
                    f"  {'save+load ' + name:<22}{p['n']:>6}{p['p50_ms']:>9.2f}"
                    f"{p['p90_ms']:>9.2f}{p['p99_ms']:>9.2f}{p['max_ms']:>9.2f}"
                )
        ratio = state.get("grpc_over_http")
        if ratio:
            lines.append(
                f"  state gRPC/HTTP ratio: p50 {ratio['p50']:.2f}, p90 {ratio['p90']:.2f},"
                f" p99 {ratio['p99']:.2f}"
            )
    published = result["dapr_published_added_ms"]
    lines.append(
        f"  Dapr's published sidecar cost: p90 +{published['p90']} ms, p99 +{published['p99']} ms;"
        f" load average {result['load_average_at_start'][0]:.2f} at start,"
        f" {result['load_average_at_end'][0]:.2f} at end"
    )
    return lines


runner = runner_of(run, render, FULL, QUICK)
