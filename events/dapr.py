"""The Dapr transport (EVENT_BUS=dapr): publish through the sidecar, receive by its HTTP push.

Publishing goes through the official Dapr SDK over gRPC when the sidecar's gRPC port is known
(DAPR_GRPC_PORT, which Dapr's sidecar injector sets in Kubernetes), and otherwise through
`POST /v1.0/publish/{pubsub}/{topic}?metadata.partitionKey={userid}`. Either way the event goes
as `application/cloudevents+json` with the `partitionKey` metadata: Dapr then passes our
structured CloudEvent through (adding only its routing and tracing attributes) instead of
wrapping it in an envelope of its own, and the Kafka component keys the message by user, so
one user's events keep their order. Dapr answers 204 (gRPC: OK), or an error status with
`{"errorCode": ..., "message": ...}` (gRPC: a status whose details carry the error code).

Receiving: the service mounts `router()`, made with the Dapr SDK's FastAPI extension (`DaprApp`).
Dapr reads `GET /dapr/subscribe` when it starts and POSTs each event to the route listed for its
topic; our answer `{"status": ...}` tells it what
to do next: SUCCESS (done), RETRY (redeliver under its resiliency policy, then dead-letter) or
DROP (dead-letter it now). The handler runs under the same `Dispatcher` as on every other bus,
so its retries and our `dlq-events` entry (with `dlqreason`) do not depend on the transport.

Records no service can read end on `dlq-events` too, put there by daprd unchanged: a body
that is not JSON never reaches the app (daprd cannot parse it and dead-letters it itself),
and one that is JSON but not our event is answered DROP. daprd would fail to parse such a
record again when delivering `dlq-events`, and, with no dead-letter topic for the
dead-letter topic, its Kafka component would redeliver it every 5 s forever, holding up
every dead letter behind it. So `dlq-events` is subscribed with `rawPayload`: daprd hands
each record over as is (base64 in an envelope of its own), and a record that is not one of
our events is delivered to the consumers as a `dlq.unreadable` event that carries it.

Errors:

    DaprError            Dapr refused a request (`error_code` is Dapr's, e.g. ERR_PUBSUB_NOT_FOUND
                         over HTTP, its gRPC ErrorInfo reason DAPR_PUBSUB_NOT_FOUND over gRPC)
     └── DaprUnavailable the sidecar did not answer in time, or says it is not ready
"""

import asyncio
import base64
import binascii
import contextvars
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Any, Final, Self
from urllib.parse import quote

import grpc
import httpx
from dapr.aio.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError, DaprInternalError
from dapr.conf import settings as dapr_settings
from dapr.ext.fastapi import DaprApp
from fastapi import APIRouter, Request

from events.bus import Subscription, refuse_every_process
from events.cloudevents import CloudEvent
from events.runtime import Dispatcher
from events.topics import Topic

__all__ = [
    "CLOUDEVENTS_JSON",
    "UNREADABLE_RECORD",
    "DaprBus",
    "DaprError",
    "DaprUnavailable",
    "DeliveryStatus",
    "SdkSidecar",
    "delivered_event",
    "open_sdk_client",
    "raw_record",
    "sdk_error",
    "unreadable_record",
]

log = logging.getLogger(__name__)

CLOUDEVENTS_JSON: Final = "application/cloudevents+json"
# The type of the event that carries a dead-lettered record which is not one of our events.
UNREADABLE_RECORD: Final = "dlq.unreadable"
# How much of an unreadable record its event keeps.
_UNREADABLE_KEEP: Final = 16 * 1024

# Attributes Dapr writes into every event it carries. They describe the trip, not the event, and
# the memory and Kafka buses hand handlers the event exactly as it was published.
_DAPR_ATTRIBUTES: Final = frozenset({"pubsubname", "topic", "traceid", "traceparent", "tracestate"})


class DaprError(Exception):
    """Dapr refused a request; `error_code` and `message` are what it answered."""

    def __init__(
        self, message: str, *, error_code: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(f"{error_code}: {message}" if error_code else message)
        self.message = message
        self.error_code = error_code
        self.status_code = status_code

    @classmethod
    def from_response(cls, response: httpx.Response, doing: str) -> Self:
        code, message = _error_body(response)
        return cls(f"{doing}: {message}", error_code=code, status_code=response.status_code)


class DaprUnavailable(DaprError):
    """The sidecar could not be reached within the timeout, or reports itself not ready."""


def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    try:
        body = response.json()
    except ValueError:  # not every failure comes from Dapr itself (a proxy, a crash)
        return None, response.text[:500] or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        code = body.get("errorCode")
        return (None if code is None else str(code)), str(body.get("message", body))
    return None, str(body)[:500]


class DeliveryStatus(StrEnum):
    """What the app answers to a delivery (Dapr pub/sub API, "Expected HTTP Response")."""

    SUCCESS = "SUCCESS"
    RETRY = "RETRY"
    DROP = "DROP"


def delivered_event(body: bytes) -> CloudEvent:
    """Our CloudEvent from the body Dapr POSTs: what we published plus Dapr's attributes.

    Raises ValueError when the body is not one of our events (not JSON, required attributes
    missing, data that is not an object).
    """
    raw = json.loads(body)
    if not isinstance(raw, dict):
        raise ValueError("a structured CloudEvent is a JSON object")
    attributes = {k: v for k, v in raw.items() if k not in _DAPR_ATTRIBUTES}
    if "data_base64" in attributes:
        # Dapr carries binary payloads (and raw ones it wrapped itself) base64-encoded.
        encoded = attributes.pop("data_base64")
        if "data" in attributes or not isinstance(encoded, str):
            raise ValueError("data_base64 must be a string, and comes without data")
        attributes["data"] = json.loads(base64.b64decode(encoded, validate=True))
    return CloudEvent.model_validate(attributes)


def raw_record(body: bytes) -> bytes:
    """The record a `rawPayload` subscription delivers: Dapr's envelope unwrapped.

    daprd wraps each record it reads in a CloudEvent of its own with the record's bytes in
    `data_base64` (type `com.dapr.event.sent`, `application/octet-stream`, no `userid`).
    Any other body (a subscription without `rawPayload`, as a declarative one may be) is the
    record itself.
    """
    try:
        envelope = json.loads(body)
    except ValueError:
        return body
    if (
        isinstance(envelope, dict)
        and envelope.get("type") == "com.dapr.event.sent"
        and envelope.get("datacontenttype") == "application/octet-stream"
        and isinstance(envelope.get("data_base64"), str)
        and "userid" not in envelope
    ):
        try:
            return base64.b64decode(envelope["data_base64"], validate=True)
        except binascii.Error:
            return body
    return body


def unreadable_record(record: bytes, *, topic: str, source: str, reason: str) -> CloudEvent:
    """The event that carries a dead-lettered record which is not one of our events.

    Its id comes from the record's bytes, so each subscriber's copy of one record (every
    subscriber of a topic dead-letters it) and each redelivery are one event to idempotent
    consumers. The record is kept as text, and as base64 too when it is not UTF-8.
    """
    digest = hashlib.sha256(record).hexdigest()
    kept = record[:_UNREADABLE_KEEP]
    data: dict[str, Any] = {
        "record": kept.decode("utf-8", errors="replace"),
        "bytes": len(record),
        "sha256": digest,
        "truncated": len(record) > len(kept),
    }
    try:
        kept.decode("utf-8")
    except UnicodeDecodeError:
        data["record_base64"] = base64.b64encode(kept).decode()
    return CloudEvent.model_validate(
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:sha256:{digest}")),
            "source": source,
            "type": UNREADABLE_RECORD,
            "userid": "",
            "data": data,
            "dlqconsumer": "dapr",
            "dlqtopic": topic,
            "dlqreason": f"unreadable record: {reason}"[:1000],
        }
    )


# The trace context of the event being published, sent as gRPC metadata by `_TraceContext`.
_publish_trace: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "dapr_publish_trace", default=()
)


class _TraceContext(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds the published event's `traceparent`/`tracestate` to the call's metadata.

    The sidecar continues the trace named there, as it does with the HTTP headers."""

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        trace = _publish_trace.get()
        if trace:
            metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
            for name, value in trace:
                metadata.add(name, value)
            client_call_details = client_call_details._replace(metadata=metadata)
        return await continuation(client_call_details, request)


def open_sdk_client(
    *,
    http_port: int,
    grpc_port: int,
    interceptors: list[Any] | None = None,
    ready_timeout: float = 5.0,
) -> DaprClient:
    """The SDK's async client for the sidecar on these loopback ports; call it in the loop,
    once the sidecar is known to be ready (its gRPC channel belongs to the running loop).

    The constructor checks, blocking, that the sidecar's HTTP health endpoint answers, at the
    address in the SDK's process-wide settings (DAPR_HTTP_PORT by default) and for up to
    DAPR_HEALTH_TIMEOUT (60 s by default). It is pointed at this sidecar, the one sidecar of
    the process, and bounded by `ready_timeout`: with a ready sidecar it answers at once."""
    # The SDK declares its settings dynamically.
    dapr_settings.DAPR_HTTP_ENDPOINT = f"http://127.0.0.1:{http_port}"  # type: ignore[attr-defined]
    dapr_settings.DAPR_HEALTH_TIMEOUT = ready_timeout  # type: ignore[attr-defined]
    return DaprClient(address=f"127.0.0.1:{grpc_port}", interceptors=interceptors)


# gRPC status codes that mean the sidecar was not there to answer.
_UNREACHABLE: Final = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def sdk_error(doing: str, exc: Exception) -> "DaprError":
    """What an SDK call's error means: `DaprUnavailable` when the sidecar was not there to
    answer, `DaprError` (with Dapr's error code where it gave one) when it refused.

    The SDK raises a gRPC error (`DaprGrpcError`, or the channel's own) or, from some calls,
    `DaprInternalError` with the gRPC error as its cause."""
    rpc = exc if isinstance(exc, grpc.RpcError) else exc.__cause__
    # The gRPC errors that reach here are calls (`code()`, `details()`); the SDK leaves
    # its accessors unannotated.
    status = getattr(rpc, "code", lambda: None)()
    details = getattr(rpc, "details", lambda: None)() or str(exc)
    code: str | None = None
    if isinstance(exc, DaprGrpcError):
        code = exc.error_code() or None  # type: ignore[no-untyped-call]
    message = f"{doing}: {details}"
    if status in _UNREACHABLE:
        return DaprUnavailable(message, error_code=code)
    return DaprError(message, error_code=code)


class SdkSidecar:
    """The SDK's async client for the sidecar on these loopback ports, opened on first use
    once the sidecar answers, with every call bounded by `timeout` and its errors those of
    this module."""

    def __init__(
        self,
        *,
        http_port: int,
        grpc_port: int,
        timeout: float = 5.0,
        ready_path: str = "/v1.0/healthz",
    ) -> None:
        """`ready_path`: the sidecar's health endpoint that must answer 204 first:
        `/v1.0/healthz` (also waits for the app and, told of one, Dapr's scheduler) or
        `/v1.0/healthz/outbound` (its components only)."""
        self.http_port = http_port
        self.grpc_port = grpc_port
        self.timeout = timeout
        self._ready_path = ready_path
        self._sdk: DaprClient | None = None

    async def client(self) -> DaprClient:
        if self._sdk is None:
            # The client's constructor waits, blocking, until the sidecar is ready: ask first.
            url = f"http://127.0.0.1:{self.http_port}{self._ready_path}"
            try:
                async with httpx.AsyncClient(timeout=self.timeout) as client:
                    ready = (await client.get(url)).status_code == 204
            except httpx.HTTPError as exc:
                raise DaprUnavailable(f"no answer from the Dapr sidecar at {url}: {exc!r}") from exc
            if not ready:
                raise DaprUnavailable(f"the Dapr sidecar at {url} is not ready")
            self._sdk = open_sdk_client(
                http_port=self.http_port, grpc_port=self.grpc_port, ready_timeout=self.timeout
            )
        return self._sdk

    async def call(
        self, doing: str, method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> Any:
        """`await method(*args, **kwargs)` (a method of `client()`), bounded, its errors ours."""
        try:
            async with asyncio.timeout(self.timeout):
                return await method(*args, **kwargs)
        except TimeoutError as exc:
            raise DaprUnavailable(
                f"{doing}: no answer from the Dapr sidecar at 127.0.0.1:{self.grpc_port} "
                f"within {self.timeout} s"
            ) from exc
        except (grpc.RpcError, DaprInternalError) as exc:
            raise sdk_error(doing, exc) from exc

    async def close(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()  # type: ignore[no-untyped-call]
            self._sdk = None


class DaprBus:
    """The `Bus` over a Dapr sidecar; mount `router()` in the service's app.

    With `grpc_port` events are published through the Dapr SDK over gRPC, without it
    through the sidecar's HTTP API. Health checks always use the HTTP API."""

    # Dapr subscribes the app id: its replicas share each topic's deliveries.
    every_process_subscriptions = False

    def __init__(
        self,
        *,
        http_port: int,
        pubsub_name: str,
        grpc_port: int | None = None,
        app_route_prefix: str = "/events",
        timeout: float = 5.0,
    ) -> None:
        self._base_url = f"http://127.0.0.1:{http_port}"
        self._http_port = http_port
        self._grpc_port = grpc_port
        self._sdk: DaprClient | None = None
        self._timeout_s = timeout
        self._pubsub = pubsub_name
        prefix = app_route_prefix.strip("/")
        self._prefix = f"/{prefix}" if prefix else ""
        # Bounded so a wedged sidecar fails the publish (the relay's breaker then backs off)
        # instead of holding an outbox batch forever.
        self._timeout = httpx.Timeout(timeout)
        self._client: httpx.AsyncClient | None = None
        self._stopped = False
        self._routes: dict[str, list[Subscription]] = {}
        self._dispatcher = Dispatcher(self)
        self._pending: list[Subscription] = []

    # -- Bus ------------------------------------------------------------------------------

    async def start(self, subscriptions: Sequence[Subscription]) -> None:
        """Record the subscriptions; Dapr learns them from `GET /dapr/subscribe`.

        Dapr keeps one subscription per pub/sub and topic for an app id, so an
        app lists one route per topic and hands each delivery to every consumer
        group of this process that subscribed to the topic."""
        refuse_every_process(subscriptions, "Dapr")
        routes: dict[str, list[Subscription]] = {}
        for subscription in [*self._pending, *subscriptions]:
            _check_topic(subscription.topic)
            groups = routes.setdefault(subscription.topic, [])
            if any(s.group == subscription.group for s in groups):
                raise ValueError(
                    f"group {subscription.group!r} subscribed twice to {subscription.topic!r}"
                )
            groups.append(subscription)
        self._pending = [s for subs in routes.values() for s in subs]
        self._routes = routes
        self._stopped = False

    async def stop(self) -> None:
        self._routes = {}
        self._pending = []
        self._stopped = True
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._sdk is not None:
            await self._sdk.close()  # type: ignore[no-untyped-call]
            self._sdk = None

    async def ping(self) -> None:
        """Raise unless the sidecar is up and its components (the broker) are ready."""
        response = await self._send("GET", "/v1.0/healthz/outbound")
        if not response.is_success:
            raise DaprUnavailable.from_response(response, "the Dapr sidecar is not ready")

    async def publish(self, topic: str, event: CloudEvent) -> None:
        if self._grpc_port is not None:
            await self._publish_grpc(self._grpc_port, topic, event)
        else:
            await self.publish_http(topic, event)

    async def _publish_grpc(self, grpc_port: int, topic: str, event: CloudEvent) -> None:
        if self._stopped:
            raise DaprUnavailable("the Dapr bus is stopped")
        address = f"127.0.0.1:{grpc_port}"
        if self._sdk is None:
            # The client's constructor waits until the sidecar is ready; fail fast instead.
            await self.ping()
            self._sdk = open_sdk_client(
                http_port=self._http_port,
                grpc_port=grpc_port,
                interceptors=[_TraceContext()],
                ready_timeout=self._timeout_s,
            )
        headers = _publish_headers(event)
        trace = tuple((k, v) for k, v in headers.items() if k.startswith("trace"))
        token = _publish_trace.set(trace)
        try:
            # Bounded, as the HTTP path is, so a wedged sidecar fails the publish.
            async with asyncio.timeout(self._timeout_s):
                await self._sdk.publish_event(
                    pubsub_name=self._pubsub,
                    topic_name=topic,
                    data=event.to_json().encode(),
                    publish_metadata={"partitionKey": event.userid},
                    data_content_type=CLOUDEVENTS_JSON,
                )
        except TimeoutError as exc:
            raise DaprUnavailable(
                f"no answer from the Dapr sidecar at {address} within {self._timeout_s} s"
            ) from exc
        except DaprGrpcError as exc:
            raise sdk_error(f"publishing {event.id} to {topic}", exc) from exc
        finally:
            _publish_trace.reset(token)

    async def publish_http(self, topic: str, event: CloudEvent) -> None:
        """Publish through the sidecar's HTTP API (used without a gRPC port)."""
        path = f"/v1.0/publish/{quote(self._pubsub, safe='')}/{quote(topic, safe='')}"
        response = await self._send(
            "POST",
            path,
            params={"metadata.partitionKey": event.userid},
            content=event.to_json().encode(),
            headers=_publish_headers(event),
        )
        if not response.is_success:
            raise DaprError.from_response(response, f"publishing {event.id} to {topic}")

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        if self._stopped:
            # A delivery still running after stop() must not open a client nobody closes.
            raise DaprUnavailable("the Dapr bus is stopped")
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self._base_url, timeout=self._timeout)
        try:
            return await self._client.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            raise DaprUnavailable(
                f"no answer from the Dapr sidecar at {self._base_url}: {exc!r}"
            ) from exc

    # -- Dapr's side of the app -----------------------------------------------------------

    def router(self, subscriptions: Sequence[Subscription]) -> APIRouter:
        """`GET /dapr/subscribe` and a delivery route per topic, for the service's FastAPI app.

        The Dapr SDK's FastAPI extension lists the subscriptions and mounts their routes;
        `start()` with the same subscriptions then says which consumer groups each
        delivery goes to, so the app may be built before the bus starts.
        """
        router = APIRouter()
        dapr_app = DaprApp(router, router_tags=["dapr"])
        for topic in dict.fromkeys(s.topic for s in subscriptions):
            _check_topic(topic)
            entry = self._entry(topic)
            dapr_app.subscribe(
                pubsub=self._pubsub,
                topic=topic,
                route=entry["route"],
                metadata=entry.get("metadata", {}),
                dead_letter_topic=entry.get("deadLetterTopic"),
            )(self._delivery_route(topic))
        return router

    def route(self, topic: str) -> str:
        return f"{self._prefix}/{topic}"

    def subscription_entries(self) -> list[dict[str, Any]]:
        """Dapr's programmatic subscription format for the started subscriptions: what
        `GET /dapr/subscribe` answers."""
        return [self._entry(topic) for topic in self._routes]

    def _entry(self, topic: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "pubsubname": self._pubsub,
            "topic": topic,
            "route": self.route(topic),
            "metadata": {},
        }
        if topic == Topic.DLQ_EVENTS:
            # Events that fail a consumer of dlq-events must not be dead-lettered onto it
            # again; and daprd must not have to parse what it dead-lettered (see above).
            entry["metadata"] = {"rawPayload": "true"}
        else:
            entry["deadLetterTopic"] = Topic.DLQ_EVENTS.value
        return entry

    def _delivery_route(self, topic: str) -> Callable[[Request], Awaitable[dict[str, str]]]:
        async def deliver(request: Request) -> dict[str, str]:
            return await self._receive(topic, request)

        deliver.__name__ = f"deliver_{topic.replace('-', '_')}"
        return deliver

    async def _receive(self, topic: str, request: Request) -> dict[str, str]:
        groups = self._routes.get(topic)
        if not groups:
            # Dapr only calls routes we listed, so this delivery raced start() or stop();
            # RETRY keeps the event rather than losing it.
            log.warning("delivery on %s before its subscription started", topic)
            return {"status": DeliveryStatus.RETRY}
        body = await request.body()
        if topic == Topic.DLQ_EVENTS:
            event = self._dead_letter(raw_record(body), request.headers.get("__topic"))
        else:
            try:
                event = delivered_event(body)
            except ValueError as exc:
                # No retry can fix the body: DROP makes Dapr put it on the dead-letter topic.
                log.warning("dropped a malformed delivery on %s: %s", topic, exc)
                return {"status": DeliveryStatus.DROP}
        outcomes = await asyncio.gather(
            *(self._dispatcher.deliver(s, event) for s in groups), return_exceptions=True
        )
        if any(isinstance(o, BaseException) for o in outcomes):
            # A DLQ publish failed: that group's event is safe nowhere yet. Dapr
            # redelivers to every group; the groups that already handled it skip
            # it (consumers are idempotent on the event id).
            log.error("could not settle %s on %s; Dapr will redeliver it", event.id, topic)
            return {"status": DeliveryStatus.RETRY}
        return {"status": DeliveryStatus.SUCCESS}

    def _dead_letter(self, record: bytes, origin: str | None) -> CloudEvent:
        """A record from dlq-events: our dead letter, or the event that carries one that is not.

        `origin` is the Kafka `__topic` daprd passes along: for a record daprd dead-lettered,
        the topic the record first came from (the record keeps its metadata as headers)."""
        try:
            return delivered_event(record)
        except ValueError as exc:
            topic = origin if origin and "/" not in origin else Topic.DLQ_EVENTS.value
            log.warning("an unreadable record from %s reached dlq-events: %s", topic, exc)
            return unreadable_record(
                record, topic=topic, source=f"/dapr/{self._pubsub}", reason=str(exc)
            )


def _check_topic(topic: str) -> None:
    if not topic or "/" in topic:
        raise ValueError(f"{topic!r} cannot be a segment of a Dapr route")


def _publish_headers(event: CloudEvent) -> dict[str, str]:
    """The publish request's headers; the event's trace context rides along.

    The sidecar continues the trace named by the `traceparent` header, not the one in
    the body, so an event carrying the `traceparent` (and `tracestate`) extension sends
    them as headers too and its delivery stays in the publisher's trace.
    """
    headers = {"Content-Type": CLOUDEVENTS_JSON}
    extensions = event.model_extra or {}
    for name in ("traceparent", "tracestate"):
        value = extensions.get(name)
        if isinstance(value, str) and value:
            headers[name] = value
    return headers
