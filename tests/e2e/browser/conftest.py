"""The web page in real Chromium (Debian's, driven by Playwright) against the
real app served by uvicorn on a loopback port, on SQLite with the in-process
bus: one backend is enough here, the API suites cover PostgreSQL.

Screenshots go to $TODO_SCREENSHOTS when set, else to the run's temp folder.
"""

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from services.app import build_app
from services.bootstrap import Container, bootstrap
from services.shared.auth import accounts
from tests.e2e.processes import poll

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
USER_ZONE = "Europe/Berlin"
# The browser runs in another zone than the user's: the page must show the user's.
BROWSER_ZONE = "America/New_York"

expect.set_options(timeout=10_000)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class WebApp:
    """The whole app (task API, consumers, workers, the page) on one port;
    it can be stopped and started again on the same port and database, like a
    process restart."""

    database_url: str
    key_file: Path
    data_dir: Path
    port: int = field(default_factory=_free_port)
    container: Container | None = None
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def new_container(self) -> Container:
        return bootstrap(
            database_url=self.database_url,
            jwt_private_key_file=self.key_file,
            data_dir=self.data_dir,
            local_user=False,
            default_timezone="UTC",
            relay_poll_seconds=0.2,
            public_url=self.url,
        )

    async def start(self) -> None:
        self.container = self.new_container()
        config = uvicorn.Config(
            build_app(self.container),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._server = self._task = None
        if self.container is not None:
            await self.container.aclose()
            self.container = None


@pytest.fixture
async def web(tmp_path: Path, sqlite_template: Path, key_file: Path) -> AsyncIterator[WebApp]:
    path = tmp_path / "todo.db"
    shutil.copy(sqlite_template, path)
    app = WebApp(f"sqlite+aiosqlite:///{path}", key_file, tmp_path)
    await app.start()
    try:
        async with httpx.AsyncClient(base_url=app.url) as client:
            index = await client.get("/")
            script = await client.get("/static/js/app.js")
        assert index.status_code == 200, "the app does not serve web/index.html at /"
        assert script.status_code == 200, "the app does not serve web/ at /static"
        yield app
    finally:
        await app.stop()


@dataclass
class Account:
    id: str
    email: str
    token: str
    api: httpx.AsyncClient

    async def add(self, **fields: Any) -> dict[str, Any]:
        response = await self.api.post("/api/tasks", json=fields)
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()
        return task

    async def task(self, task_id: str) -> dict[str, Any] | None:
        response = await self.api.get(f"/api/tasks/{task_id}")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    async def settles(self, task_id: str, status: str) -> None:
        """Wait until the server holds the task in `status`. The board moves a row at
        once and sends the change after, so a read right after the move may be early."""

        async def reached() -> bool:
            found = await self.task(task_id)
            return found is not None and found["status"] == status

        await poll(reached, timeout=10)

    async def tasks(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.api.get("/api/tasks", params={"limit": 100, **params})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@pytest.fixture
async def account(web: WebApp) -> AsyncIterator[Account]:
    email = f"web-{uuid.uuid4().hex[:8]}@example.com"
    async with httpx.AsyncClient(base_url=web.url, timeout=10) as client:
        registered = await client.post(
            "/api/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "Robin",
                  "timezone": USER_ZONE},
        )
        assert registered.status_code == 201, registered.text
        login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        token = login.json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield Account(registered.json()["id"], email, token, client)


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make test does)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("TODO_SCREENSHOTS")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture
async def new_context(browser: Browser) -> AsyncIterator[NewContext]:
    """Browser contexts (separate windows with their own storage), closed after the test."""
    opened: list[BrowserContext] = []

    async def make(**options: Any) -> BrowserContext:
        options.setdefault("viewport", {"width": 1360, "height": 860})
        options.setdefault("locale", "en-GB")
        options.setdefault("timezone_id", BROWSER_ZONE)
        context = await browser.new_context(**options)
        opened.append(context)
        return context

    yield make
    for context in opened:
        await context.close()


def _browser_noise(text: str) -> bool:
    # Chromium logs failed requests and dropped sockets itself; the page handles them.
    return text.startswith(("Failed to load resource", "WebSocket connection to"))


class PageErrors:
    """Uncaught errors in the page fail the test that caused them."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",
            lambda message: self.errors.append(message.text)
            if message.type == "error" and not _browser_noise(message.text)
            else None,
        )
        return page


@pytest.fixture
def page_errors() -> Iterator[PageErrors]:
    errors = PageErrors()
    yield errors
    assert errors.errors == [], f"errors in the page: {errors.errors}"


AXE = Path(__file__).resolve().parents[3] / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Rules axe runs only when asked: an accessible name that drops the visible
# label breaks speech control ("click Mark read").
AXE_RUN = """async () => {
  const results = await axe.run(document, {
    resultTypes: ["violations"],
    rules: { "label-content-name-mismatch": { enabled: true } },
  });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary}`.slice(0, 400)),
  }));
}"""
BLOCKING = ("serious", "critical")
# Lesser rules the page once broke and now keeps: they fail a test too.
KEPT = ("landmark-one-main", "page-has-heading-one", "region", "heading-order", "empty-heading")


class Axe:
    """axe-core (web/node_modules, from web/package.json) run in the page as it
    is: every browser test calls `check` at the states worth looking at. A
    serious or critical violation fails the test, and so does a break of a
    rule in KEPT; the rest are kept in `found` by state."""

    def __init__(self) -> None:
        self.found: dict[str, list[dict[str, Any]]] = {}

    async def check(self, page: Page, state: str) -> list[dict[str, Any]]:
        if not await page.evaluate("() => typeof window.axe === 'object'"):
            assert AXE.exists(), f"no {AXE}: run `npm ci` in web/ (make test does)"
            # Evaluated over the DevTools protocol, so the page's CSP does not block it.
            await page.evaluate(AXE.read_text())
        violations: list[dict[str, Any]] = await page.evaluate(AXE_RUN)
        self.found[state] = violations
        blocking = [v for v in violations if v["impact"] in BLOCKING or v["id"] in KEPT]
        assert not blocking, f"accessibility, {state}: " + "\n".join(
            f"{v['impact']} {v['id']} ({v['help']}): {v['nodes']}" for v in blocking
        )
        return violations


@pytest.fixture
def axe() -> Axe:
    return Axe()


async def login_link(web: WebApp, account: Account) -> str:
    assert web.container is not None
    async with web.container.uow() as uow:
        secret = await accounts.create_login_link(
            uow, user_id=uuid.UUID(account.id), ttl=timedelta(minutes=5)
        )
    return f"{web.url}/login?token={secret}"


OpenPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def open_page(
    web: WebApp, account: Account, new_context: NewContext, page_errors: PageErrors
) -> OpenPage:
    """A new window signed in as `account` through a one-time login link,
    showing the page with its live feed connected."""

    async def open_one(init_script: str | None = None, **options: Any) -> Page:
        context = await new_context(**options)
        if init_script:
            await context.add_init_script(init_script)
        page = page_errors.watch(await context.new_page())
        await page.goto(await login_link(web, account))
        await page.wait_for_url(f"{web.url}/")
        await expect(page.locator("#app")).to_be_visible()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        return page

    return open_one


@pytest.fixture
async def page(open_page: OpenPage) -> Page:
    return await open_page()


def row(page: Page, title: str) -> Any:
    """The board row of the task with this exact title."""
    return page.locator("#board li.task").filter(
        has=page.locator(".task-title", has_text=title)
    )


async def send_chat(page: Page, text: str) -> None:
    composer = page.locator("#composer-input")
    await composer.fill(text)
    await composer.press("Enter")
