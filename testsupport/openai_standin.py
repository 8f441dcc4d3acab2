"""A stand-in for an OpenAI-compatible server: `POST /v1/chat/completions`, streamed.

It speaks the Chat Completions wire format as the `openai` SDK reads it: with
`"stream": true` the answer is `text/event-stream`, one `data: {chunk}` per
`chat.completion.chunk` and a final `data: [DONE]`. Text arrives as
`delta.content` pieces; tool calls as `delta.tool_calls` entries whose first
piece carries `index`, `id`, `type` and `function.name`, and whose later
pieces carry `function.arguments` fragments; the last choice chunk has
`finish_reason` ("stop" or "tool_calls"); with `stream_options.include_usage`
a final chunk with empty `choices` carries `usage`.

Each test scripts the answers, one per request, in order:

    standin.script(
        tools(call("find_tasks", {"q": "milk"})),
        lambda request: text(f"{len(tool_results(request))} results"),
        stall(5),                              # no answer in time
        failure(500, "overloaded"),
    )

A request the real API would refuse (a tool call without its result, a
result for no call) gets the API's 400 `invalid_request_error`. Every request
body is kept in `requests` for assertions, its `Authorization` header (the API
key the client sent) in `authorizations`.
"""

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from testsupport.dapr_standin import LoopbackServer as _DaprLoopbackServer
from testsupport.dapr_standin import _QuietServer

MODEL = "standin-model"


@dataclass(frozen=True)
class Call:
    name: str
    arguments: str  # JSON text as the model writes it, possibly malformed
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:20]}")


@dataclass(frozen=True)
class Answer:
    """One scripted completion."""

    content: str = ""
    calls: tuple[Call, ...] = ()
    stall_seconds: float = 0.0  # before the first byte
    stall_after_first_chunk: float = 0.0
    status: int = 200
    error: str = ""
    prompt_tokens: int = 11
    completion_tokens: int = 7


Step = Answer | Callable[[dict[str, Any]], Answer]


def text(content: str) -> Answer:
    return Answer(content=content)


def call(name: str, arguments: dict[str, Any] | None = None, *, raw: str | None = None) -> Call:
    return Call(name, raw if raw is not None else json.dumps(arguments or {}))


def tools(*calls: Call, content: str = "") -> Answer:
    return Answer(content=content, calls=calls)


def stall(seconds: float, *, after_first_chunk: bool = False) -> Answer:
    if after_first_chunk:
        return Answer(content="…", stall_after_first_chunk=seconds)
    return Answer(stall_seconds=seconds)


def failure(status: int, message: str) -> Answer:
    return Answer(status=status, error=message)


def tool_results(request: dict[str, Any]) -> list[str]:
    """The contents of the request's tool messages since its last user message."""
    messages = request["messages"]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return [m["content"] for m in messages[last_user:] if m["role"] == "tool"]


def _pieces(value: str, size: int) -> list[str]:
    return [value[i : i + size] for i in range(0, len(value), size)] or [""]


def _protocol_error(messages: list[dict[str, Any]]) -> str | None:
    """What the real API refuses in a conversation's tool messages."""
    open_calls: set[str] = set()
    for message in messages:
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in open_calls:
                return f"tool message for unknown or answered tool_call_id {call_id!r}"
            open_calls.discard(call_id)
            continue
        if open_calls:
            return f"tool_call_ids without a tool message: {sorted(open_calls)}"
        open_calls = {c["id"] for c in message.get("tool_calls") or ()}
    if open_calls:
        return f"tool_call_ids without a tool message: {sorted(open_calls)}"
    return None


class LoopbackServer(_DaprLoopbackServer):
    """The shared loopback server, on a socket that says it is TCP.

    asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets whose
    protocol is IPPROTO_TCP; on a plain `socket.socket()` (protocol 0) a
    stream of small chunks stalls on delayed ACKs, about 40 ms a request.
    """

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            ws="none",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                sock.close()
                self._task.result()
                raise RuntimeError("uvicorn exited before it started")
            await asyncio.sleep(0.01)


class OpenAIStandIn:
    """`fallback` answers a request when nothing is scripted (none: a 500)."""

    def __init__(self, fallback: Step | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        self._script: deque[Step] = deque()
        self._fallback = fallback
        self._server = LoopbackServer(self._asgi())
        self._released = asyncio.Event()

    @property
    def base_url(self) -> str:
        return f"{self._server.url}/v1"

    def script(self, *steps: Step) -> None:
        self._script.extend(steps)

    @property
    def unused(self) -> int:
        return len(self._script)

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        self._released.set()  # stalled answers end now, so shutdown does not wait on them
        await self._server.stop()

    def _asgi(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])

    async def _complete(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        self.authorizations.append(request.headers.get("authorization", ""))
        if request.headers.get("authorization", "") == "":
            return _error(401, "missing API key", "invalid_request_error")
        problem = _protocol_error(body.get("messages", []))
        if problem is not None:
            return _error(400, problem, "invalid_request_error")
        if not self._script and self._fallback is None:
            return _error(500, "the stand-in has no scripted answer left", "server_error")
        step = self._script.popleft() if self._script else self._fallback
        assert step is not None
        answer = step(body) if callable(step) else step
        if answer.stall_seconds:
            await self._stall(answer.stall_seconds)
        if answer.status != 200:
            return _error(answer.status, answer.error, "server_error")
        if not body.get("stream"):
            return _error(400, "the stand-in answers streamed requests only", "invalid_request")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            self._chunks(answer, include_usage), media_type="text/event-stream"
        )

    async def _stall(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), seconds)

    async def _chunks(self, answer: Answer, include_usage: bool) -> AsyncIterator[bytes]:
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                ],
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        if answer.stall_after_first_chunk:
            await self._stall(answer.stall_after_first_chunk)
        for piece in _pieces(answer.content, 5) if answer.content else ():
            yield chunk({"content": piece})
        for index, scripted in enumerate(answer.calls):
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": scripted.id,
                            "type": "function",
                            "function": {"name": scripted.name, "arguments": ""},
                        }
                    ]
                }
            )
            for piece in _pieces(scripted.arguments, 7):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, "tool_calls" if answer.calls else "stop")
        if include_usage:
            usage = {
                "prompt_tokens": answer.prompt_tokens,
                "completion_tokens": answer.completion_tokens,
                "total_tokens": answer.prompt_tokens + answer.completion_tokens,
            }
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL,
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(payload)}\n\n".encode()
        yield b"data: [DONE]\n\n"


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": None}},
        status_code=status,
    )


__all__ = [
    "Answer",
    "Call",
    "OpenAIStandIn",
    "call",
    "failure",
    "stall",
    "text",
    "tool_results",
    "tools",
]
