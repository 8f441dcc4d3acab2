"""The task tools, reached through an MCP client session to our MCP server.

Two ways in, one session shape:

- in process (embedded, the default): the official SDK's in-process client
  (`mcp.Client(server)`) calls this process's own `MCPServer` directly, with
  no network and no JSON-RPC framing;
- streamable HTTP to `MCP_URL`, carrying the caller's own bearer token.

Either way the tools act as the user the connection was opened for, never as
anyone a model names: the server resolves its caller through `Runtime.caller`.
In process that is the user this session was opened with, bound around each
call (a context variable the server's caller reads); over HTTP it is the
token's user, verified by the server on every request.
"""

import asyncio
import contextvars
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolRequest, CallToolRequestParams, CallToolResult, Tool

from assistant.errors import ToolsUnavailable
from mcp_server.runtime import Runtime
from mcp_server.server import create_server
from services.errors import AuthError
from services.shared.auth.principal import Principal
from services.shared.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class ToolInfo:
    name: str
    description: str
    input_schema: dict[str, Any]
    read_only: bool
    destructive: bool


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    ok: bool
    text: str
    structured: dict[str, Any] | None = None

    @property
    def result(self) -> Any:
        """What the `tool_result` event carries: the structured output, else the text."""
        if self.ok and self.structured is not None:
            return self.structured
        return self.text


class ToolSession(Protocol):
    @property
    def tools(self) -> list[ToolInfo]: ...

    @property
    def instructions(self) -> str | None: ...

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome: ...


class ToolSource(Protocol):
    def connect(
        self, user: Principal, token: str | None
    ) -> AbstractAsyncContextManager[ToolSession]: ...


def tool_info(tool: Tool) -> ToolInfo:
    hints = tool.annotations
    return ToolInfo(
        name=tool.name,
        description=tool.description or "",
        input_schema=dict(tool.input_schema),
        read_only=bool(hints and hints.read_only_hint),
        destructive=bool(hints and hints.destructive_hint),
    )


def outcome(result: CallToolResult) -> ToolOutcome:
    text = "\n".join(block.text for block in result.content if block.type == "text")
    structured = result.structured_content if isinstance(result.structured_content, dict) else None
    return ToolOutcome(ok=not result.is_error, text=text, structured=structured)


class _Session:
    """One connection's tools; `bind` runs each call as the connection's user.

    With `check_results` (the SDK's way, and the only way for a remote
    server) each result is checked against the output schema its tool listed.
    """

    def __init__(
        self,
        client: Client,
        tools: list[ToolInfo],
        bind: contextvars.ContextVar[Principal] | None = None,
        user: Principal | None = None,
        *,
        check_results: bool = True,
    ) -> None:
        self._client = client
        self._tools = tools
        self._bind = bind
        self._user = user
        self._check_results = check_results

    async def _call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        if self._check_results:
            return await self._client.call_tool(name, arguments)
        request = CallToolRequest(params=CallToolRequestParams(name=name, arguments=arguments))
        return await self._client.session.send_request(request, CallToolResult)

    @property
    def tools(self) -> list[ToolInfo]:
        return self._tools

    @property
    def instructions(self) -> str | None:
        return self._client.instructions

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        if name not in {tool.name for tool in self._tools}:
            known = ", ".join(tool.name for tool in self._tools)
            return ToolOutcome(ok=False, text=f"unknown tool {name!r}: use one of {known}")
        token = None
        if self._bind is not None and self._user is not None:
            # Set and reset within this call: nothing else in the task runs as the user.
            token = self._bind.set(self._user)
        try:
            return outcome(await self._call(name, arguments))
        except MCPError as exc:
            return ToolOutcome(ok=False, text=exc.error.message)
        finally:
            if token is not None and self._bind is not None:
                self._bind.reset(token)


class InProcessTools:
    """This process's own MCP server, reached in memory.

    `start()` opens one client session for the process (kept by a task of its
    own, so any task may start or close it): its tool listing then serves
    every turn. Unstarted, each turn opens a session of its own, which is
    correct but slower.

    The client takes this server's results without checking them against
    their output schemas again (`check_results=True` brings the check back):
    the server has already validated each result against the very model its
    schema is generated from, and it answers with an error instead of output
    that breaks it. The second check, in `jsonschema`, cost more CPU than the
    tool itself: over half of a chat turn's own work for a 20-task search.
    """

    def __init__(self, open_uow: Callable[[], UnitOfWork], *, check_results: bool = False) -> None:
        self._check_results = check_results
        self._acting: contextvars.ContextVar[Principal] = contextvars.ContextVar("acting_user")
        self._open_uow = open_uow
        self._server: MCPServer[Runtime] | None = None
        self._tools: list[ToolInfo] | None = None
        self._shared: Client | None = None
        self._owner: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def _caller(self) -> Principal:
        try:
            return self._acting.get()
        except LookupError:
            raise AuthError("no user is bound to this connection") from None

    @property
    def server(self) -> MCPServer[Runtime]:
        # Built once: building the tools' schemas costs tens of milliseconds.
        if self._server is None:
            self._server = create_server(Runtime(open_uow=self._open_uow, caller=self._caller))
        return self._server

    async def _listed(self, client: Client) -> list[ToolInfo]:
        if self._tools is None:
            self._tools = [tool_info(t) for t in (await client.list_tools()).tools]
        return self._tools

    async def start(self) -> None:
        if self._owner is not None:
            return
        ready = asyncio.Event()
        self._stop = asyncio.Event()

        async def own() -> None:
            try:
                async with Client(self.server, raise_exceptions=False) as client:
                    await self._listed(client)
                    self._shared = client
                    ready.set()
                    await self._stop.wait()
            finally:
                self._shared = None
                ready.set()

        self._owner = asyncio.create_task(own(), name="assistant-mcp-session")
        await ready.wait()
        if self._owner.done():
            self._owner.result()  # raises why the session could not open

    async def aclose(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            self._stop.set()
            await owner

    @asynccontextmanager
    async def _connect(self, user: Principal) -> AsyncIterator[ToolSession]:
        shared = self._shared
        if shared is not None:
            tools = await self._listed(shared)
            checks = self._check_results
            yield _Session(shared, tools, bind=self._acting, user=user, check_results=checks)
            return
        async with Client(self.server, raise_exceptions=False) as client:
            tools = await self._listed(client)
            checks = self._check_results
            yield _Session(client, tools, bind=self._acting, user=user, check_results=checks)

    def connect(
        self, user: Principal, token: str | None
    ) -> AbstractAsyncContextManager[ToolSession]:
        return self._connect(user)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _transport_failure(exc: BaseException) -> BaseException | None:
    """The connection error behind `exc` (the SDK's task groups wrap it), if that is all it is."""
    leaves = _leaves(exc)
    if all(isinstance(leaf, httpx2.HTTPError | MCPError | OSError) for leaf in leaves):
        return leaves[0]
    return None


class RemoteTools:
    """An MCP server over streamable HTTP (`MCP_URL`), as the caller's token."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self._url = url
        self._timeout = timeout

    @asynccontextmanager
    async def _connect(self, token: str) -> AsyncIterator[ToolSession]:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with (
                httpx2.AsyncClient(headers=headers, timeout=self._timeout) as http,
                Client(streamable_http_client(self._url, http_client=http)) as client,
            ):
                tools = [tool_info(t) for t in (await client.list_tools()).tools]
                yield _Session(client, tools)
        except Exception as exc:
            cause = _transport_failure(exc)
            if cause is None:
                raise
            raise ToolsUnavailable(
                f"the MCP server at {self._url} is unavailable: {cause}"
            ) from exc

    def connect(
        self, user: Principal, token: str | None
    ) -> AbstractAsyncContextManager[ToolSession]:
        if not token:
            raise ToolsUnavailable("MCP_URL is set: the assistant needs the caller's token")
        return self._connect(token)


__all__ = [
    "InProcessTools",
    "RemoteTools",
    "ToolInfo",
    "ToolOutcome",
    "ToolSession",
    "ToolSource",
    "outcome",
    "tool_info",
]
