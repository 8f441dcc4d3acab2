"""Tracing a chat turn in Langfuse: one trace per turn, each model call a
generation (with its token usage), each tool call a span.

Off unless LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_HOST are all
set; then the SDK exports in its own thread (OTLP over HTTP), so a slow or
absent Langfuse never slows or breaks a turn. A tracing failure is logged,
never raised.
"""

import logging
from typing import Any, Protocol

import anyio
from opentelemetry import context as otel_context

log = logging.getLogger(__name__)


class Observation(Protocol):
    def end(self, *, output: Any = None, error: str | None = None, **details: Any) -> None: ...


class TurnTrace(Protocol):
    def generation(self, *, model: str, input: Any) -> Observation: ...

    def tool(self, *, name: str, arguments: Any) -> Observation: ...

    def end(self, *, output: Any = None, error: str | None = None) -> None: ...


class Tracer(Protocol):
    def turn(self, *, user_id: str, conversation_id: str, input: str) -> TurnTrace: ...

    async def flush(self) -> None: ...

    async def aclose(self) -> None: ...


class _Nothing:
    def end(self, *, output: Any = None, error: str | None = None, **details: Any) -> None:
        return None

    def generation(self, *, model: str, input: Any) -> Observation:
        return self

    def tool(self, *, name: str, arguments: Any) -> Observation:
        return self


class NoTracer:
    """Tracing off: every call is a no-op."""

    def turn(self, *, user_id: str, conversation_id: str, input: str) -> TurnTrace:
        return _Nothing()

    async def flush(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class _Observed:
    """A Langfuse observation whose failures stay in the log."""

    def __init__(self, observation: Any) -> None:
        self._observation = observation

    def end(self, *, output: Any = None, error: str | None = None, **details: Any) -> None:
        try:
            update: dict[str, Any] = {"output": output, **details}
            if error is not None:
                update |= {"level": "ERROR", "status_message": error}
            self._observation.update(**update)
            self._observation.end()
        except Exception:
            log.warning("could not end a Langfuse observation", exc_info=True)


class _LangfuseTurn:
    def __init__(self, root: Any) -> None:
        self._root = root

    def generation(self, *, model: str, input: Any) -> Observation:
        return self._child(name="model", as_type="generation", model=model, input=input)

    def tool(self, *, name: str, arguments: Any) -> Observation:
        return self._child(name=f"tool {name}", as_type="span", input=arguments)

    def _child(self, **fields: Any) -> Observation:
        if self._root is None:
            return _Nothing()
        try:
            return _Observed(self._root.start_observation(**fields))
        except Exception:
            log.warning("could not start a Langfuse observation", exc_info=True)
            return _Nothing()

    def end(self, *, output: Any = None, error: str | None = None) -> None:
        if self._root is not None:
            _Observed(self._root).end(output=output, error=error)


class LangfuseTracer:
    def __init__(self, *, public_key: str, secret_key: str, host: str) -> None:
        from langfuse import Langfuse
        from opentelemetry.sdk.trace import TracerProvider

        # A provider of our own: the SDK would otherwise install itself as the
        # process's global OpenTelemetry provider.
        self._client = Langfuse(
            public_key=public_key,
            secret_key=secret_key,
            base_url=host.rstrip("/"),
            tracer_provider=TracerProvider(),
        )

    def turn(self, *, user_id: str, conversation_id: str, input: str) -> TurnTrace:
        from langfuse import propagate_attributes

        # The turn is a trace of its own in Langfuse: started in an empty
        # context, so the service's request span (another provider, another
        # backend) does not become a parent Langfuse never sees.
        token = otel_context.attach(otel_context.Context())
        try:
            # Entered and left right here: the turn is an async generator, and a
            # context kept open across its yields would leak into the caller.
            with propagate_attributes(
                user_id=user_id, session_id=conversation_id, trace_name="chat turn"
            ):
                root = self._client.start_observation(name="chat turn", as_type="span", input=input)
        except Exception:
            log.warning("could not start a Langfuse trace", exc_info=True)
            root = None
        finally:
            otel_context.detach(token)
        return _LangfuseTurn(root)

    async def flush(self) -> None:
        # The exporter blocks its caller until sent: never on the event loop.
        await anyio.to_thread.run_sync(self._client.flush)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._client.shutdown)


def create_tracer(*, public_key: str | None, secret_key: str | None, host: str | None) -> Tracer:
    if not (public_key and secret_key and host):
        return NoTracer()
    try:
        return LangfuseTracer(public_key=public_key, secret_key=secret_key, host=host)
    except Exception:
        log.warning("Langfuse tracing is off: the client could not start", exc_info=True)
        return NoTracer()


__all__ = ["LangfuseTracer", "NoTracer", "Observation", "Tracer", "TurnTrace", "create_tracer"]
