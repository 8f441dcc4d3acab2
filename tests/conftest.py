"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from `scripts/test-services.sh` (started by `make test`),
found through TEST_POSTGRES_URL. Under CI=true a skipped test fails the run.
"""

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from events import CloudEvent, outbox_table
from services.app import build_app
from services.bootstrap import Container, bootstrap
from services.migrations.runner import upgrade

# Tests register many accounts from one address; the limits have tests of their own.
os.environ.setdefault("RATE_LIMIT_AUTH_PER_MINUTE", "100000")
os.environ.setdefault("RATE_LIMIT_PER_USER_PER_SECOND", "100000")

T = TypeVar("T")
BACKENDS = ["sqlite", "postgres"]
TABLES = [
    "oauth_refresh_tokens",
    "oauth_authorizations",
    "oauth_grants",
    "oauth_clients",
    "chat_turns",
    "conversation_messages",
    "conversations",
    "calendar_feeds",
    "audit_logs",
    "notification_preferences",
    "push_subscriptions",
    "notifications",
    "reminder_schedule",
    "processed_events",
    "outbox_pending",
    "outbox",
    "login_links",
    "personal_access_tokens",
    "deleted_tasks",
    "tasks",
    "users",
]


# The cluster tests run only under `make cluster-test`, which brings the cluster up.
collect_ignore = [] if os.environ.get("TODO_CLUSTER_TEST") == "1" else ["cluster"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") == "true" and skipped and exitstatus == 0:
        if reporter:
            reporter.write_line(f"CI=true: {skipped} skipped test(s) count as failures", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One RSA key for the whole run: generating one per test is slow.
    from services.shared.auth.keys import load_or_create_private_key

    path = tmp_path_factory.mktemp("keys") / "jwt-private.pem"
    load_or_create_private_key(path)
    return path


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test run's own on the test server, dropped at the
    end: runs side by side (and benchmarks) never see each other's rows."""
    with _postgres_database("todo_run") as url:
        yield url


@contextmanager
def _postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty database on the test server, dropped on leaving."""
    server_url = os.environ.get("TEST_POSTGRES_URL")
    if not server_url:
        pytest.skip("TEST_POSTGRES_URL is not set: `make test` starts PostgreSQL")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.make_url(server_url).set(database="postgres")
    run_blocking(lambda: _autocommit(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        run_blocking(lambda: _autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _autocommit(url: sa.URL, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


def run_blocking(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run async set-up from a sync fixture, on a loop of its own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work()).result()


async def _sql(url: str, *statements: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_migrated(postgres_url: str) -> str:
    upgrade(postgres_url)
    return postgres_url


@pytest.fixture(scope="module", params=BACKENDS)
def empty_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database no migration ran on, on each backend: for the migration tests."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('empty') / 'todo.db'}"
        return
    with _postgres_database("todo_empty") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "todo.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated")
    run_blocking(lambda: _sql(url, f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    return url


def app_container(database_url: str, key_file: Path, data_dir: Path) -> Container:
    """The app's container as the tests build it: no local user, UTC by default."""
    return bootstrap(
        database_url=database_url,
        jwt_private_key_file=key_file,
        data_dir=data_dir,
        local_user=False,
        default_timezone="UTC",
    )


async def end_other_backends(database_url: str) -> int:
    """End every server process of the PostgreSQL database but this call's own, as
    a restart does to a pool's connections; how many were ended."""
    admin = create_async_engine(database_url, pool_size=1)
    try:
        async with admin.connect() as conn:
            ended = await conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            return int(ended.scalar_one())
    finally:
        await admin.dispose()


@pytest.fixture
async def container(database_url: str, key_file: Path, tmp_path: Path) -> AsyncIterator[Container]:
    c = app_container(database_url, key_file, tmp_path)
    yield c
    await c.aclose()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(container)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


class Sent(NamedTuple):
    """A statement a connection sent: its text, whitespace folded, and whether
    the database then reported a transaction open on that connection."""

    text: str
    in_transaction: bool


def _in_transaction(driver: Any) -> bool:
    status = getattr(driver, "is_in_transaction", None)  # asyncpg
    if status is not None:
        return bool(status())
    return bool(getattr(driver, "in_transaction", False))  # aiosqlite


@asynccontextmanager
async def sent_statements(engine: sa.ext.asyncio.AsyncEngine) -> AsyncIterator[list[Sent]]:
    """The statements the engine's connections send while the block runs, in
    order: those run through SQLAlchemy (its cursor events) and those run on
    the asyncpg driver directly (the driver's query logger on each connection
    checked out meanwhile; SQLAlchemy's own go through prepared statements,
    which that logger does not see). The driver reports a statement in a
    callback it schedules as the statement ends: the block's end lets those
    run before the list is read."""
    sent: list[Sent] = []
    logged: list[tuple[Any, Any]] = []

    def on_cursor(conn: Any, cursor: object, statement: str, *args: object) -> None:
        in_block = _in_transaction(conn.connection.driver_connection)
        sent.append(Sent(" ".join(statement.split()), in_block))

    def on_checkout(dbapi_conn: Any, record: object, proxy: object) -> None:
        driver = getattr(dbapi_conn, "driver_connection", None)
        if not hasattr(driver, "add_query_logger") or any(d is driver for d, _ in logged):
            return

        def on_driver(query: Any) -> None:
            sent.append(Sent(" ".join(query.query.split()), _in_transaction(driver)))

        driver.add_query_logger(on_driver)
        logged.append((driver, on_driver))

    sync = engine.sync_engine
    sa.event.listen(sync, "after_cursor_execute", on_cursor)
    sa.event.listen(sync.pool, "checkout", on_checkout)
    try:
        yield sent
        await asyncio.sleep(0)  # the driver's scheduled reports run
    finally:
        sa.event.remove(sync, "after_cursor_execute", on_cursor)
        sa.event.remove(sync.pool, "checkout", on_checkout)
        for driver, callback in logged:
            driver.remove_query_logger(callback)


async def outbox_events(container: Container, mentioning: str) -> list[CloudEvent]:
    """The events in the outbox whose JSON mentions `mentioning` (a task's id), in order."""
    async with container.engine.connect() as conn:
        payloads = (
            await conn.execute(
                sa.select(outbox_table.c.payload)
                .where(outbox_table.c.payload.contains(mentioning))
                .order_by(outbox_table.c.id)
            )
        ).scalars()
        return [CloudEvent.model_validate_json(p) for p in payloads]


@dataclass
class User:
    id: str
    email: str
    token: str
    client: httpx.AsyncClient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        headers = {**self.headers, **dict(kwargs.pop("headers", {}) or {})}  # type: ignore[call-overload]
        return await self.client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]

    async def get(self, url: str, **kwargs: object) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: object) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def patch(self, url: str, **kwargs: object) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: object) -> httpx.Response:
        return await self.request("DELETE", url, **kwargs)

    async def add(self, **fields: object) -> dict[str, object]:
        fields.setdefault("title", "a task")
        response = await self.post("/api/tasks", json=fields)
        assert response.status_code == 201, response.text
        body: dict[str, object] = response.json()
        return body


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(client: httpx.AsyncClient) -> MakeUser:
    async def make(timezone: str = "America/New_York", email: str | None = None) -> User:
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
        password = "correct horse battery"
        registered = await client.post(
            "/api/auth/register", json={"email": email, "password": password, "timezone": timezone}
        )
        assert registered.status_code == 201, registered.text
        login = await client.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        return User(registered.json()["id"], email, login.json()["access_token"], client)

    return make


@pytest.fixture
async def alice(make_user: MakeUser) -> User:
    return await make_user()


@dataclass
class LiveServer:
    """The real app on a loopback port (uvicorn), lifespan included."""

    url: str
    container: Container

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"


async def serve_app(container: Container) -> AsyncIterator[LiveServer]:
    import socket

    import uvicorn

    class InTestServer(uvicorn.Server):
        """Leaves the test process's signal handlers alone. Each server would
        install its own and put back the one it found when it stops: two
        stopped out of order leave the first one's installed, and SSE
        responses of every later app then end at once, seeing it shut down."""

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        build_app(container),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ws="websockets-sansio",
    )
    server = InTestServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", container)
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def live(container: Container) -> AsyncIterator[LiveServer]:
    async for server in serve_app(container):
        yield server
