"""The MCP server: the task tools, their conventions, and a planning prompt."""

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolResult, GetPromptResult, InputRequiredResult
from pydantic import ValidationError

from mcp_server import errors
from mcp_server.prompts import PROMPTS
from mcp_server.runtime import Runtime
from mcp_server.schemas import compact_input, compact_output
from mcp_server.tools import TOOLS

NAME = "todo-app"
INSTRUCTIONS = """\
The signed-in user's tasks; every tool acts as that user.
Times: send wall-clock "YYYY-MM-DDTHH:MM", read in the task's timezone (default: the \
user's), or add an offset. A bare date means 23:59 for due_at, 09:00 for remind_at. \
Results give times with their offset and in words ("tomorrow 17:00") against now.
Recurrence: an RFC 5545 RRULE body (FREQ=WEEKLY;BYDAY=MO,WE; INTERVAL=2; COUNT=5; \
UNTIL=20301231T235959Z) plus due_at, its first occurrence; preview_recurrence shows \
what a rule means.
Before changing a task, find_tasks (q = words of its title) for its task_id; if \
several match, ask which one. Ask before delete_task.
A failed call says what to fix: fix that argument and call again.\
"""


class TaskTool(Tool):
    """A tool whose errors read as what to fix, without the SDK's wrapping.

    The SDK reports bad arguments as pydantic's full report (model name,
    error codes, documentation links) and prefixes every error with "Error
    executing tool <name>"; a model needs only the field and the problem.
    """

    async def run(
        self, arguments: dict[str, Any], context: Any, convert_result: bool = False
    ) -> Any:
        try:
            return await super().run(arguments, context, convert_result)
        except UnexpectedToolError:
            raise  # a crash: the SDK logs it and reveals nothing
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise errors.from_validation(cause) from cause
            if isinstance(cause, ToolError):
                raise cause from cause.__cause__
            raise


def _description(fn: Callable[..., Any]) -> str:
    # One line: the docstring's indentation and line breaks are tokens too.
    return " ".join(inspect.cleandoc(fn.__doc__ or "").split())


def _tools() -> list[Tool]:
    tools = []
    for spec in TOOLS:
        tool = TaskTool.from_function(
            spec.fn,
            name=spec.name,
            title=spec.title,
            description=_description(spec.fn),
            annotations=spec.annotations,
        )
        tool.parameters = compact_input(tool.parameters)
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = compact_output(tool.fn_metadata.output_schema)
        tools.append(tool)
    return tools


class TaskServer(MCPServer[Runtime]):
    """Unknown names are the caller's mistake in the request itself: a
    JSON-RPC error with code -32602 (invalid params), as the specification
    asks, not an error result nor code 0."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Any = None
    ) -> CallToolResult | InputRequiredResult:
        if self._tool_manager.get_tool(name) is None:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {name}", {"name": name})
        return await super().call_tool(name, arguments, context)

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Any = None
    ) -> GetPromptResult | InputRequiredResult:
        if self._prompt_manager.get_prompt(name) is None:
            raise MCPError(INVALID_PARAMS, f"Unknown prompt: {name}", {"name": name})
        return await super().get_prompt(name, arguments, context)


def create_server(
    runtime: Runtime,
    *,
    token_verifier: TokenVerifier | None = None,
    auth: AuthSettings | None = None,
) -> MCPServer[Runtime]:
    """A server whose tools act through `runtime` (see `mcp_server.runtime`)."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        yield runtime

    server: MCPServer[Runtime] = TaskServer(
        NAME,
        title="Tasks",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        token_verifier=token_verifier,
        auth=auth,
        tools=_tools(),
        lifespan=lifespan,
        # The SDK configures root logging from this; the app owns its logging,
        # and a tool error is the caller's mistake, not an event worth INFO.
        log_level="WARNING",
    )
    for prompt in PROMPTS:
        server.add_prompt(prompt)
    return server


__all__ = ["INSTRUCTIONS", "NAME", "create_server"]
