"""Exceptions of the product, raised by the domain and the service layer.

Edges translate them once (HTTP problem+json, MCP tool errors, bus RETRY/DROP).

    DomainError
     ├── InvalidInput          a value breaks a rule; names the field and what to fix (422)
     ├── NotFound              no such resource for this user (404, never 403)
     ├── Conflict              the change collides with stored state (409)
     │    └── VersionMismatch  If-Match named an older version (412)
     └── AuthError             missing, bad or expired credentials (401)
"""

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every expected failure."""

    title = "Request failed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str


class InvalidInput(DomainError):
    title = "Invalid input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.problems = [FieldProblem(field, message)]


class NotFound(DomainError):
    title = "Not found"


class Conflict(DomainError):
    title = "Conflict"


class VersionMismatch(Conflict):
    title = "Precondition failed"

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"the task is at version {current}, not {expected}: fetch it again and retry"
        )
        self.expected = expected
        self.current = current


class AuthError(DomainError):
    title = "Unauthorized"


__all__ = [
    "AuthError",
    "Conflict",
    "DomainError",
    "FieldProblem",
    "InvalidInput",
    "NotFound",
    "VersionMismatch",
]
