"""Property-based API testing: schemathesis generates requests from the app's
own /openapi.json and sends them to the real app (uvicorn, SQLite, the
in-process bus) as a registered user. Every answer must be a documented status
code with a body that matches its declared schema, and never a 5xx.

Bounded: a few examples per operation, so the whole run stays short."""

import asyncio
import shutil
import socket
import threading
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.app import build_app
from services.bootstrap import bootstrap
from tests.conftest import BACKENDS, TABLES, _sql, run_blocking

# The app under test runs on a thread of this process. Hypothesis warns when
# the global `random` state moves while it draws a case, as if a strategy had
# used it. The app's own retry jitter has its own generator (events.runtime.
# JITTER); the filter stays for the libraries the app runs on that thread.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)

EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Not `negative_data_rejection`: unknown query parameters are ignored on
# purpose (as HTTP APIs commonly do), which that check counts as a failure.
# Deleting the account would log the test user out of every later operation
# (the route itself is covered by tests/integration/test_account_deletion.py).
EXCLUDED = [("DELETE", "/api/auth/me")]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # runs in a thread: no signals
        return None


@pytest.fixture(scope="module", params=BACKENDS)
def live_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    key_file: Path,
) -> Iterator[str]:
    """The app served by uvicorn on a thread of its own (its own event loop),
    so schemathesis can call it synchronously."""
    data = tmp_path_factory.mktemp("schemathesis")
    if request.param == "sqlite":
        db = data / "todo.db"
        shutil.copy(sqlite_template, db)
        database_url = f"sqlite+aiosqlite:///{db}"
    else:
        database_url = request.getfixturevalue("postgres_migrated")
        run_blocking(lambda: _sql(database_url, f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    container = bootstrap(
        database_url=database_url,
        jwt_private_key_file=key_file,
        data_dir=data,
        local_user=False,
        default_timezone="UTC",
        # Generated logins with wrong passwords would otherwise lock the
        # address out; the lockout has tests of its own.
        login_lockout_address_failures=1_000_000,
        login_lockout_account_failures=1_000_000,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = _Server(
        uvicorn.Config(
            build_app(container), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    try:
        for _ in range(1500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.02)
        assert server.started, "the app did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True  # the lifespan closes the container
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def auth_headers(live_url: str) -> dict[str, str]:
    """A real user, with a few tasks for the id-taking operations to find."""
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery"
    with httpx.Client(base_url=live_url) as client:
        registered = client.post("/api/auth/register", json={"email": email, "password": password})
        assert registered.status_code == 201, registered.text
        login = client.post("/api/auth/login", json={"email": email, "password": password})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        for body in (
            {"title": "plain"},
            {"title": "weekly", "due_at": "2030-01-07T09:00", "recurrence_rule": "FREQ=WEEKLY"},
        ):
            assert client.post("/api/tasks", json=body, headers=headers).status_code == 201
    return headers


def _operations(url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    for method, path in EXCLUDED:
        schema = schema.exclude(method=method, path=path)
    return [result.ok() for result in schema.get_all_operations()]


def _strategy(operation: Any) -> Any:
    """Valid requests, and invalid ones where the schema can be violated."""
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    try:
        return st.one_of(positive, operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # an operation with nothing to get wrong
        return positive


def _exercise(operation: Any, headers: dict[str, str]) -> None:
    @given(case=_strategy(operation))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    run()


def _explain(exc: BaseException) -> str:
    """The failure and, for a group (e.g. hypothesis' flaky report), each cause."""
    lines = [str(exc)]
    for inner in getattr(exc, "exceptions", ()):
        lines.append("".join(traceback.format_exception_only(inner)).strip())
    return "\n".join(lines)


def test_every_operation_answers_as_documented(live_url: str, auth_headers: dict[str, str]) -> None:
    operations = _operations(live_url)
    assert len(operations) > 30
    failures = []
    for operation in operations:
        try:
            _exercise(operation, auth_headers)
        except (Exception, BaseExceptionGroup) as exc:  # every operation runs; all are reported
            failures.append(f"{operation.method.upper()} {operation.path}:\n{_explain(exc)}")
    assert not failures, "\n\n".join(failures)
