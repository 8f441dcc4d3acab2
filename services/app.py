"""The FastAPI app of a process: health, metrics, the Dapr subscription
endpoints when EVENT_BUS=dapr, and the routes of the service(s) it runs."""

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

from services.bootstrap import Container, bootstrap
from services.composition import SERVICE_NAMES, compose
from services.shared import metrics
from services.shared.http import create_app
from services.shared.tracing import setup_tracing
from services.tasks.api import health

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
TITLES = {
    "all": "todo-app",
    "task-api": "todo-app task API",
    "recurring-task": "todo-app recurring-task service",
    "notification": "todo-app notification service",
    "audit": "todo-app audit service",
}


def worker_app() -> FastAPI:
    """The app of one of `todo serve --workers N`'s processes (SERVICE_NAME): a new
    process, so its logging is set up here as `todo serve` set up its own."""
    from services.shared.logs import configure
    from services.shared.settings import get_settings

    settings = get_settings()
    configure(settings.log_format, settings.log_level)
    return build_app(service=settings.service_name, settle_heap=True)


def _settle_heap() -> None:
    """Collect what start-up left behind, then move everything still alive (the
    modules, the app, the container, caches) out of the collector's reach for
    good. A full collection, every few hundred requests under load, then scans
    only what requests made since: it took up to 140 ms over the whole heap,
    a pause every request in flight waited through."""
    gc.collect()
    gc.freeze()


def build_app(
    container: Container | None = None, *, service: str | None = None, settle_heap: bool = False
) -> FastAPI:
    """The app of `service` (default: the container's, else SERVICE_NAME).

    Without a container, one is bootstrapped on start-up from the environment.
    The lifespan starts consuming, relaying and the workers, and closes the
    container on shutdown. Only the processes that serve the page (`all`,
    `task-api`) load the assistant and the MCP server. A server process passes
    `settle_heap` to have `_settle_heap()` run once everything has started."""
    if container is None:
        container = bootstrap(service_name=service) if service else bootstrap()
    name = service or container.settings.service_name
    if name not in SERVICE_NAMES:
        raise ValueError(f"unknown service {name!r}")
    running = container
    setup_tracing(container.settings.service_name if name == "all" else name)
    serves_mcp = name in ("all", "task-api")
    process = compose(name, container)
    mcp: Callable[[FastAPI], AbstractAsyncContextManager[object]] = _nothing
    chat: Callable[[FastAPI], AbstractAsyncContextManager[object]] = _nothing
    if serves_mcp:
        from assistant.api import assistant_lifespan
        from mcp_server.http import mcp_lifespan, mount_mcp

        mcp, chat = mcp_lifespan, assistant_lifespan

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await running.start(process.subscriptions, process.workers)
        try:
            async with mcp(app), chat(app):
                if settle_heap:
                    _settle_heap()
                yield
        finally:
            await running.aclose()

    app = create_app(
        title=TITLES[name], lifespan=lifespan, cors_origins=container.settings.cors_origin_list
    )
    app.state.container = container
    # Routes are matched in the order they are included: the service's own
    # (the requests users wait on) first, then health, metrics and Dapr's.
    for part in process.routers:
        app.include_router(part)
    app.include_router(health.router)
    app.include_router(metrics.router)
    router = getattr(container.bus, "router", None)
    if router is not None:  # Dapr pushes deliveries to the app over HTTP
        app.include_router(router(process.subscriptions), include_in_schema=False)
    if serves_mcp:
        _web(app)
        mount_mcp(app)
    return app


def _nothing(app: FastAPI) -> AbstractAsyncContextManager[object]:
    return nullcontext()


class _WebFiles(StaticFiles):
    """web/ as /static; revalidated on every load, so an upgrade shows at once. Only the
    page's own files: web/'s development tooling (package.json, node_modules, the
    JavaScript unit tests) is not served."""

    _TOOLING = ("node_modules", "test", "package.json", "package-lock.json", "jsconfig.json")

    async def get_response(self, path: str, scope: Scope) -> Response:
        if Path(path).parts[:1] and Path(path).parts[0] in self._TOOLING:
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


def _web(app: FastAPI) -> None:
    # HEAD too: the login page asks whether the page is served before going there.
    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index_page() -> FileResponse:
        return FileResponse(
            WEB_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"}
        )

    app.mount("/static", _WebFiles(directory=WEB_DIR), name="static")

    # The service worker at the root: its scope covers the whole page.
    @app.get("/sw.js", include_in_schema=False)
    async def service_worker() -> FileResponse:
        return FileResponse(
            WEB_DIR / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/login", include_in_schema=False)
    async def login_page() -> FileResponse:
        return FileResponse(WEB_DIR / "login.html", media_type="text/html")
