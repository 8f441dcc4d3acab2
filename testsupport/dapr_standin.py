"""A stand-in for the Dapr sidecar (daprd), speaking its HTTP contract, for tests that cannot
run daprd.

It implements what `events.dapr.DaprBus` relies on. Each part follows Dapr's documentation
(the page is named in its docstring) and, where the page is silent, what daprd's source does:

- the publish API, "Pub/sub API reference" (`_publish`);
- CloudEvent handling on publish, "Publishing & subscribing messages with Cloudevents"
  (`_from_cloud_event`, `_wrap`);
- the health API, "Health API reference" (`_healthz`, `_healthz_outbound`);
- programmatic subscriptions, "Pub/sub API reference" and "Declarative and programmatic
  subscription methods" (`connect_app`);
- delivery and the app's answer, "Pub/sub API reference", "Expected HTTP Response" (`_post`);
- retries and dead-letter topics, "Dead Letter Topics" (`_settle`);
- subscriptions with `rawPayload`, "Publish & subscribe messages without CloudEvents"
  (`_raw_envelope`).

Checked against daprd 1.16.0 (tests/e2e/dapr): a 404 from the app settles a message without
a dead letter; a dead-lettered message keeps its metadata, so `__topic` names its first topic.

The broker behind it is an in-memory log per topic. Messages with the same partition key are
delivered one after the other, as from one Kafka partition; different keys run concurrently.
Everything is recorded for assertions: `publish_requests`, `broker`, `deliveries`,
`dead_letters` and `undelivered`.

Not implemented: bulk publish and subscribe, routing rules with CEL `match` expressions,
message TTL, scopes, gRPC.
"""

import asyncio
import base64
import contextlib
import json
import logging
import secrets
import socket
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger(__name__)

CLOUDEVENTS_JSON = "application/cloudevents+json"

ASGIApp = Callable[..., Awaitable[None]]


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handling: a server inside a test must leave Ctrl-C alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class LoopbackServer:
    """An ASGI app served by uvicorn on a free 127.0.0.1 port, in the running event loop."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        # Binding first gives us the port before serving, with no window for another process.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app, lifespan="off", ws="none", log_config=None, access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                sock.close()  # uvicorn closes it on shutdown, which it never reached
                self._task.result()  # raises why it could not start
                raise RuntimeError("uvicorn exited before it started")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = None
        self._task = None


# -- what the stand-in records ---------------------------------------------------------------


@dataclass(frozen=True)
class PublishRequest:
    """One call to the publish API, as the app made it, and the status it got."""

    path: str
    query: str
    pubsubname: str
    topic: str
    content_type: str
    metadata: dict[str, str]
    body: bytes
    status_code: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class BrokerMessage:
    """A message as the broker holds it: the CloudEvent bytes Dapr built, and its key."""

    pubsubname: str
    topic: str
    key: str
    body: bytes
    metadata: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class AppSubscription:
    """One entry of the app's `GET /dapr/subscribe`, as daprd understands it."""

    pubsubname: str
    topic: str
    route: str
    dead_letter_topic: str
    metadata: dict[str, str]


class Outcome(Enum):
    SUCCESS = "success"
    RETRY = "retry"
    DROP = "drop"
    # 404 from the app: daprd logs a non-retriable error and acknowledges the message,
    # without retrying it or dead-lettering it.
    DISCARD = "discard"


@dataclass(frozen=True)
class Delivery:
    """One POST to the app's route: what was sent, what came back, what daprd made of it."""

    route: str
    topic: str
    attempt: int
    headers: dict[str, str]
    body: bytes
    status_code: int | None  # None: no HTTP answer (connection refused, timeout)
    app_status: str | None  # the `status` of a 2xx JSON answer
    outcome: Outcome

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class DeadLetter:
    message: BrokerMessage
    dead_letter_topic: str
    reason: str


@dataclass(frozen=True)
class Undelivered:
    """A message daprd gave back to the broker unsettled (Kafka would redeliver it later)."""

    message: BrokerMessage
    reason: str


@dataclass
class _Partition:
    queue: asyncio.Queue[BrokerMessage] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _error(status_code: int, error_code: str, message: str) -> JSONResponse:
    """Dapr's error body ("Handling HTTP error codes")."""
    return JSONResponse({"errorCode": error_code, "message": message}, status_code=status_code)


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _child_traceparent(parent: str | None) -> str:
    """A W3C traceparent for a new span, in the parent's trace when there is one."""
    parts = (parent or "").split("-")
    trace_id = parts[1] if len(parts) == 4 and len(parts[1]) == 32 else secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


class DaprStandIn:
    """daprd's HTTP API on a loopback port, delivering to one app, with an in-memory broker.

    `max_retries` and `retry_interval` play the constant retry resiliency policy that the
    "Dead Letter Topics" page recommends pairing with a dead-letter topic; with
    `max_retries=0` a failing message goes straight to the dead-letter topic, as documented for
    a subscription without a policy.
    """

    def __init__(
        self,
        *,
        pubsub_names: Iterable[str] = ("pubsub",),
        app_id: str = "app",
        max_retries: int = 2,
        retry_interval: float = 0.05,
    ) -> None:
        self.pubsub_names = frozenset(pubsub_names)
        self.app_id = app_id
        self.max_retries = max_retries
        self.retry_interval = retry_interval
        self.ready = True  # /v1.0/healthz
        self.outbound_ready = True  # /v1.0/healthz/outbound
        self.broken_topics: set[str] = set()  # publishing to these fails as in a broker outage
        self.publish_requests: list[PublishRequest] = []
        self.broker: dict[str, list[BrokerMessage]] = {}
        self.subscriptions: list[AppSubscription] = []
        self.deliveries: list[Delivery] = []
        self.dead_letters: list[DeadLetter] = []
        self.undelivered: list[Undelivered] = []
        self._server = LoopbackServer(self._asgi())
        self._app: httpx.AsyncClient | None = None
        self._partitions: dict[tuple[int, str], _Partition] = {}
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def http_port(self) -> int:
        return self._server.port

    def messages(self, topic: str) -> list[Any]:
        """The JSON of every message the broker holds on `topic`, in order."""
        return [m.json() for m in self.broker.get(topic, [])]

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP API (publish, health)."""
        await self._server.start()

    async def connect_app(self, app_port: int) -> None:
        """What daprd does once the app's port is open: read its programmatic subscriptions.

        "Pub/sub API reference", "Provide a route for Dapr to discover topic subscriptions":
        `GET /dapr/subscribe` answers a JSON array of `{pubsubname, topic, route | routes,
        deadLetterTopic, metadata}`. daprd treats 404 as "no subscriptions", takes `route` (or
        `routes.default`) as the path and drops entries without one.
        """
        self._app = httpx.AsyncClient(base_url=f"http://127.0.0.1:{app_port}", timeout=30)
        response = await self._app.get("/dapr/subscribe")
        if response.status_code == 404:
            return
        response.raise_for_status()
        for item in response.json():
            routes = item.get("routes") or {}
            if routes.get("rules"):
                raise NotImplementedError("routing rules (CEL match) are not implemented")
            path = routes.get("default") or item.get("route") or ""
            if not path or item.get("pubsubname") not in self.pubsub_names:
                log.warning("daprd would ignore the subscription %r", item)
                continue
            self.subscriptions.append(AppSubscription(
                pubsubname=item["pubsubname"],
                topic=item["topic"],
                # daprd calls the app at "/" + the path, whether or not it starts with "/".
                route="/" + path.lstrip("/"),
                dead_letter_topic=item.get("deadLetterTopic") or "",
                metadata=dict(item.get("metadata") or {}),
            ))

    async def stop(self) -> None:
        for partition in self._partitions.values():
            if partition.task is not None:
                partition.task.cancel()
        for partition in self._partitions.values():
            if partition.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await partition.task
        self._partitions.clear()
        if self._app is not None:
            await self._app.aclose()
            self._app = None
        await self._server.stop()

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every message is settled: handled, dropped, dead-lettered or given up."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    # -- HTTP API -------------------------------------------------------------------------

    def _asgi(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1.0/publish/{pubsubname}/{topic:path}", self._publish, methods=["POST"]),
            Route("/v1.0/healthz", self._healthz, methods=["GET"]),
            Route("/v1.0/healthz/outbound", self._healthz_outbound, methods=["GET"]),
        ])

    async def _healthz(self, request: Request) -> Response:
        """"Health API reference": 204 when healthy, 500 when not."""
        if not self.ready:
            return _error(500, "ERR_HEALTH_NOT_READY", "dapr is not ready")
        return Response(status_code=204)

    async def _healthz_outbound(self, request: Request) -> Response:
        """"Health API reference": 204 once components are initialised, else 500."""
        if not self.outbound_ready:
            return _error(500, "ERR_OUTBOUND_HEALTH_NOT_READY", "dapr outbound is not ready")
        return Response(status_code=204)

    async def _publish(self, request: Request) -> Response:
        """`POST /v1.0/publish/{pubsubname}/{topic}[?metadata.*]` ("Pub/sub API reference").

        204 once the broker has the message; 404 ERR_PUBSUB_NOT_FOUND for an unknown pub/sub
        component and ERR_TOPIC_EMPTY without a topic (the status codes daprd's HTTP API
        returns); 500 ERR_PUBSUB_CLOUD_EVENTS_SER for an `application/cloudevents+json` body
        that is not a JSON object; 500 ERR_PUBSUB_PUBLISH_MESSAGE when the broker fails.
        Query parameters prefixed `metadata.` are the request's metadata; for Kafka
        `partitionKey` (or `__key`) is the message key ("Apache Kafka", "Partition Key").
        """
        pubsubname = request.path_params["pubsubname"]
        topic = request.path_params["topic"]
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        metadata = {
            key.removeprefix("metadata."): value
            for key, value in request.query_params.items()
            if key.startswith("metadata.")
        }
        response = self._accept(
            pubsubname, topic, content_type, metadata, body,
            request.headers.get("traceparent"), request.headers.get("tracestate", ""),
        )
        self.publish_requests.append(PublishRequest(
            path=request.url.path, query=request.url.query, pubsubname=pubsubname, topic=topic,
            content_type=content_type, metadata=metadata, body=body,
            status_code=response.status_code,
        ))
        return response

    def _accept(
        self, pubsubname: str, topic: str, content_type: str, metadata: dict[str, str],
        body: bytes, parent_trace: str | None, tracestate: str,
    ) -> Response:
        if pubsubname not in self.pubsub_names:
            return _error(404, "ERR_PUBSUB_NOT_FOUND", f"pubsub {pubsubname} not found")
        if not topic:
            return _error(404, "ERR_TOPIC_EMPTY", f"topic is empty in pubsub {pubsubname}")
        trace = {"traceparent": _child_traceparent(parent_trace), "tracestate": tracestate}
        if metadata.get("rawPayload") == "true":
            data = body  # "Publish & subscribe messages without CloudEvents": sent as is
        elif _media_type(content_type) == CLOUDEVENTS_JSON:
            try:
                event = json.loads(body)
                if not isinstance(event, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                return _error(500, "ERR_PUBSUB_CLOUD_EVENTS_SER",
                              f"cannot create cloudevent: {exc}")
            data = json.dumps(self._from_cloud_event(event, pubsubname, topic, **trace)).encode()
        else:
            data = json.dumps(self._wrap(body, content_type, pubsubname, topic, **trace)).encode()
        if topic in self.broken_topics:
            return _error(500, "ERR_PUBSUB_PUBLISH_MESSAGE",
                          f"error when publish to topic {topic} in pubsub {pubsubname}: "
                          "broker unavailable")
        self._append(BrokerMessage(
            pubsubname=pubsubname, topic=topic,
            key=metadata.get("partitionKey") or metadata.get("__key") or "",
            body=data, metadata=metadata,
        ))
        return Response(status_code=204)

    @staticmethod
    def _from_cloud_event(
        event: dict[str, Any], pubsubname: str, topic: str, traceparent: str, tracestate: str,
    ) -> dict[str, Any]:
        """The app's own CloudEvent, passed through ("Publish your own CloudEvent").

        Dapr adds `time` if missing and always sets `traceid`, `traceparent`, `tracestate`,
        `topic`, `pubsubname`; it fills `source`, `type`, `specversion` when absent. Every
        other attribute passes as is.
        """
        event = dict(event)
        event.setdefault("time", _now_rfc3339())
        event.update(traceid=traceparent, traceparent=traceparent, tracestate=tracestate,
                     topic=topic, pubsubname=pubsubname)
        for name, default in (("source", "Dapr"), ("type", "com.dapr.event.sent"),
                              ("specversion", "1.0")):
            if event.get(name) is None:
                event[name] = default
        return event

    def _wrap(
        self, body: bytes, content_type: str, pubsubname: str, topic: str, traceparent: str,
        tracestate: str,
    ) -> dict[str, Any]:
        """Any other payload, wrapped in Dapr's envelope ("Dapr-generated CloudEvents")."""
        media_type = _media_type(content_type) or "text/plain"
        event: dict[str, Any] = {
            "id": str(uuid.uuid4()), "specversion": "1.0", "source": self.app_id,
            "type": "com.dapr.event.sent", "datacontenttype": content_type or "text/plain",
            "topic": topic, "pubsubname": pubsubname, "traceid": traceparent,
            "traceparent": traceparent, "tracestate": tracestate, "time": _now_rfc3339(),
        }
        if media_type == "application/octet-stream":
            event["data_base64"] = base64.b64encode(body).decode()
        elif _is_json(media_type):
            try:
                event["data"] = json.loads(body)
            except ValueError:
                event["data"] = body.decode(errors="replace")
        else:
            event["data"] = body.decode(errors="replace")
        return event

    # -- the broker and delivery ----------------------------------------------------------

    def _append(self, message: BrokerMessage) -> None:
        self.broker.setdefault(message.topic, []).append(message)
        for index, subscription in enumerate(self.subscriptions):
            if (subscription.pubsubname, subscription.topic) == (message.pubsubname,
                                                                 message.topic):
                self._enqueue(index, message)

    def _enqueue(self, index: int, message: BrokerMessage) -> None:
        partition = self._partitions.get((index, message.key))
        if partition is None:
            partition = self._partitions[(index, message.key)] = _Partition()
            partition.task = asyncio.create_task(self._consume(index, partition))
        self._pending += 1
        self._idle.clear()
        partition.queue.put_nowait(message)

    async def _consume(self, index: int, partition: _Partition) -> None:
        # One consumer per key: the next message waits until this one is settled.
        subscription = self.subscriptions[index]
        while True:
            message = await partition.queue.get()
            try:
                await self._settle(subscription, message)
            except Exception:  # a bug here must not silently stall the partition
                log.exception("stand-in failed settling a message")
                self.undelivered.append(Undelivered(message, "stand-in error"))
            finally:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    async def _settle(self, subscription: AppSubscription, message: BrokerMessage) -> None:
        """Deliver under the retry policy, then dead-letter ("Dead Letter Topics").

        A retriable failure is redelivered up to `max_retries` times; then, or at once for a
        dropped message, the message goes to `deadLetterTopic` if the subscription has one.
        Without one a dropped message is discarded and an exhausted one goes back to the
        broker unsettled. A body that is not JSON is never handed to the app: daprd cannot
        read it as a CloudEvent and dead-letters it; without a dead-letter topic daprd's
        Kafka component redelivers it every 5 s forever, which the stand-in records as
        `undelivered` instead. With `rawPayload` in the subscription's metadata daprd parses
        nothing: every message goes to the app in its envelope (`_raw_envelope`).
        """
        body = message.body
        if subscription.metadata.get("rawPayload") == "true":
            body = json.dumps(self._raw_envelope(subscription, message)).encode()
        else:
            try:
                json.loads(body)
            except ValueError:
                await self._dead_letter_or_give_up(
                    subscription, message,
                    "error deserializing cloud event (redelivered every 5 s, forever)")
                return
        reason = ""
        for attempt in range(1, self.max_retries + 2):
            outcome, reason = await self._post(subscription, message, body, attempt)
            if outcome in (Outcome.SUCCESS, Outcome.DISCARD):
                return
            if outcome is Outcome.DROP:
                if subscription.dead_letter_topic:
                    await self._dead_letter_or_give_up(subscription, message, reason)
                return
            if attempt <= self.max_retries:
                await asyncio.sleep(self.retry_interval)
        await self._dead_letter_or_give_up(subscription, message, f"retries exhausted: {reason}")

    @staticmethod
    def _raw_envelope(subscription: AppSubscription, message: BrokerMessage) -> dict[str, Any]:
        """What daprd delivers for a `rawPayload` subscription (components-contrib's
        `FromRawPayload`): a new random id and the message bytes as `data_base64`."""
        return {
            "id": str(uuid.uuid4()), "specversion": "1.0",
            "datacontenttype": "application/octet-stream", "source": "Dapr",
            "type": "com.dapr.event.sent", "topic": message.topic,
            "pubsubname": subscription.pubsubname,
            "data_base64": base64.b64encode(message.body).decode(),
        }

    async def _dead_letter_or_give_up(
        self, subscription: AppSubscription, message: BrokerMessage, reason: str,
    ) -> None:
        # daprd publishes the message bytes unchanged to the dead-letter topic of the same
        # pub/sub component (not through the HTTP API, so nothing is re-wrapped), with the
        # message's metadata as Kafka headers: `__topic` keeps naming where it came from.
        topic = subscription.dead_letter_topic
        if topic and topic not in self.broken_topics:
            self.dead_letters.append(DeadLetter(message, topic, reason))
            self._append(BrokerMessage(pubsubname=message.pubsubname, topic=topic,
                                       key=message.key, body=message.body,
                                       metadata={**message.metadata,
                                                 "__topic": _origin(message)}))
            return
        self.undelivered.append(Undelivered(message, reason))

    async def _post(
        self, subscription: AppSubscription, message: BrokerMessage, body: bytes, attempt: int,
    ) -> tuple[Outcome, str]:
        """One delivery, read as daprd reads the answer ("Expected HTTP Response").

        The body is the CloudEvent as the broker holds it, sent with
        `Content-Type: application/cloudevents+json` and a `traceparent` continuing the
        event's trace; the message metadata travels as headers (`pubsubName`, and Kafka's
        `__key` and `__topic`). A 2xx answer is read for `{"status"}`: SUCCESS, or an empty or
        unreadable body, settles the message; RETRY or any other status retries; DROP drops.
        404 settles it without a dead letter (daprd: "non-retriable error"); any other status,
        or no answer at all, retries. `body` is the message, or its `rawPayload` envelope.
        """
        assert self._app is not None, "connect_app() first"
        event = json.loads(body)
        headers = {"content-type": CLOUDEVENTS_JSON, "pubsubName": subscription.pubsubname,
                   "__topic": _origin(message)}
        if message.key:
            headers["__key"] = message.key
        if isinstance(event, dict) and isinstance(event.get("traceparent"), str):
            headers["traceparent"] = _child_traceparent(event["traceparent"])
            if event.get("tracestate"):
                headers["tracestate"] = str(event["tracestate"])
        try:
            response = await self._app.post(subscription.route, content=body, headers=headers)
        except httpx.TransportError as exc:
            self._record(subscription, message, body, attempt, headers, None, None,
                         Outcome.RETRY)
            return Outcome.RETRY, f"app channel error: {exc!r}"
        app_status = _app_status(response) if response.is_success else None
        if response.is_success:
            outcome = {"": Outcome.SUCCESS, "SUCCESS": Outcome.SUCCESS,
                       "DROP": Outcome.DROP}.get(app_status or "", Outcome.RETRY)
        elif response.status_code == 404:
            outcome = Outcome.DISCARD
        else:
            outcome = Outcome.RETRY
        self._record(subscription, message, body, attempt, headers, response.status_code,
                     app_status, outcome)
        return outcome, f"HTTP {response.status_code} status {app_status!r}"

    def _record(
        self, subscription: AppSubscription, message: BrokerMessage, body: bytes, attempt: int,
        headers: Mapping[str, str], status_code: int | None, app_status: str | None,
        outcome: Outcome,
    ) -> None:
        self.deliveries.append(Delivery(
            route=subscription.route, topic=message.topic, attempt=attempt, headers=dict(headers),
            body=body, status_code=status_code, app_status=app_status, outcome=outcome,
        ))


def _origin(message: BrokerMessage) -> str:
    """The Kafka `__topic` daprd passes along: a dead letter keeps its first topic's."""
    return message.metadata.get("__topic") or message.topic


def _app_status(response: httpx.Response) -> str:
    """The `status` of a 2xx answer; "" (success) when the body is empty or not readable."""
    try:
        body = response.json()
    except ValueError:
        return ""
    status = body.get("status") if isinstance(body, dict) else None
    return status if isinstance(status, str) else ""
