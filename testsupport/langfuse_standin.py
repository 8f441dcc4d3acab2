"""A stand-in for a Langfuse host, receiving what the `langfuse` SDK (v3 and later) sends.

The SDK traces through OpenTelemetry: its span processor exports batches with
the OTLP/HTTP protobuf exporter to `POST {host}/api/public/otel/v1/traces`,
gzip-compressed, with `Authorization: Basic base64(public_key:secret_key)`
and `x-langfuse-public-key`. Each span carries Langfuse's attributes: its
observation type (`langfuse.observation.type`: span, generation, ...), input
and output, a generation's model and usage, and trace attributes such as
`user.id` and `session.id`.

The stand-in decodes those requests (`ExportTraceServiceRequest`) into
`spans`, answers the OTLP success response, and refuses a wrong key with 401
as Langfuse does. Other API calls are recorded in `other_requests` and
answered 404.
"""

import base64
import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from testsupport.openai_standin import LoopbackServer

TRACES_PATH = "/api/public/otel/v1/traces"


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def observation_type(self) -> str | None:
        value = self.attributes.get("langfuse.observation.type")
        return None if value is None else str(value)

    def json_attribute(self, name: str) -> Any:
        value = self.attributes.get(name)
        return json.loads(value) if isinstance(value, str) else value


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return None if kind is None else getattr(value, kind)


class LangfuseStandIn:
    def __init__(self, *, public_key: str, secret_key: str) -> None:
        self.public_key = public_key
        self.secret_key = secret_key
        self.spans: list[ReceivedSpan] = []
        self.export_requests = 0
        self.refused = 0
        self.other_requests: list[str] = []
        self._server = LoopbackServer(self._asgi())

    @property
    def url(self) -> str:
        return self._server.url

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        await self._server.stop()

    def _asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route(TRACES_PATH, self._traces, methods=["POST"]),
                Route("/{path:path}", self._other, methods=["GET", "POST", "PUT", "PATCH"]),
            ]
        )

    def _authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    async def _traces(self, request: Request) -> Response:
        if not self._authorized(request):
            self.refused += 1
            return JSONResponse({"message": "Invalid credentials"}, status_code=401)
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        self.export_requests += 1
        for resource_spans in export.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex() or None,
                            name=span.name,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        return Response(
            ExportTraceServiceResponse().SerializeToString(),
            media_type="application/x-protobuf",
        )

    async def _other(self, request: Request) -> Response:
        self.other_requests.append(f"{request.method} {request.url.path}")
        return JSONResponse({"message": "not found"}, status_code=404)


__all__ = ["TRACES_PATH", "LangfuseStandIn", "ReceivedSpan"]
