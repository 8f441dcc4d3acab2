"""Domain and validation failures as tool errors a model can act on.

A failed call comes back as an `isError` result (the SDK turns a `ToolError`
into one), never as a protocol error, so the model reads what to fix and the
session goes on. (A tool or prompt name the server does not know is another
matter: that is a bad request, answered with JSON-RPC error -32602 by
`server.TaskServer`.) Nothing here reveals whether another user's task exists: the
service layer already answers "not found" for both.
"""

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from services.errors import AuthError, DomainError, InvalidInput, NotFound

TIME_FIELDS = frozenset({"due_at", "remind_at", "due_after", "due_before", "start"})
TIME_HINT = (
    "send a wall-clock time like 2030-03-03T17:00 (in the task's timezone), "
    "an RFC 3339 time with offset, or a date like 2030-03-03"
)
NOT_FOUND_HINT = "call find_tasks to get the task_id"


def from_domain(exc: DomainError) -> ToolError:
    if isinstance(exc, NotFound):
        return ToolError(f"{exc.detail}: {NOT_FOUND_HINT}")
    if isinstance(exc, InvalidInput):
        problem = exc.problems[0]
        hint = f"; {TIME_HINT}" if problem.field in TIME_FIELDS else ""
        return ToolError(f"{problem.field}: {problem.message}{hint}")
    if isinstance(exc, AuthError):
        return ToolError(f"not signed in: {exc.detail}")
    return ToolError(exc.detail)


def _problem(error: ErrorDetails) -> tuple[str, str]:
    field = ".".join(str(part) for part in error["loc"]) or "arguments"
    message = error["msg"].removeprefix("Value error, ")
    # A nested ValidationError (a date parsed inside a validator) repeats its
    # own header and URL; its first line after the header is what matters.
    if "validation error" in message:
        message = message.splitlines()[-1].strip() if "\n" in message else message
    return field, message


def from_validation(exc: ValidationError) -> ToolError:
    problems = [_problem(e) for e in exc.errors(include_url=False)]
    text = "; ".join(f"{field}: {message}" for field, message in problems[:5])
    if any(field.split(".")[0] in TIME_FIELDS for field, _ in problems):
        text += f" ({TIME_HINT})"
    return ToolError(text)


__all__ = ["from_domain", "from_validation"]
