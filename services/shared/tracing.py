"""OpenTelemetry traces of a service process.

`setup_tracing` installs the SDK's tracer provider, named by the service,
exporting over OTLP/HTTP (protobuf) — only when `OTEL_EXPORTER_OTLP_ENDPOINT`
is set. Without it nothing is installed: the API's no-op tracer makes every
span nearly free. The exporter reads the standard `OTEL_EXPORTER_OTLP_*`
variables (headers, timeout, per-signal endpoint) itself.

The server span of each HTTP request is FastAPI's own telemetry, which turns
on once a tracer provider is installed and continues a caller's `traceparent`
header; events written inside a request carry its trace on (events.tracing).
"""

import os
import threading

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

__all__ = ["build_provider", "setup_tracing"]

_lock = threading.Lock()
_installed = False


def build_provider(service_name: str, *processors: SpanProcessor) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name, "service.namespace": "todo-app"})
    )
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def setup_tracing(service_name: str) -> bool:
    """Install an exporting tracer provider once per process, when an OTLP
    endpoint is configured; return whether one is installed."""
    global _installed
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    if not endpoint:
        return _installed
    with _lock:
        if _installed:
            return True
        # Imported here: a process that exports nothing never loads it.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        trace.set_tracer_provider(
            build_provider(service_name, BatchSpanProcessor(OTLPSpanExporter()))
        )
        _installed = True
    return True
