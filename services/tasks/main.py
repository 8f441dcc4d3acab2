"""task-api: the task service's FastAPI app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse

from services.bootstrap import Container, bootstrap
from services.shared import metrics
from services.shared.http import create_app
from services.tasks.api import auth, health, tasks, ws

WEB_DIR = Path(__file__).resolve().parents[2] / "web"


def build_app(container: Container | None = None) -> FastAPI:
    """The task-api app. Without a container, one is bootstrapped on start-up
    from the environment. The lifespan starts consuming and relaying events
    and closes the container on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running: Container = container or bootstrap()
        app.state.container = running
        await running.start()
        try:
            yield
        finally:
            await running.aclose()

    app = create_app(title="todo-app task API", lifespan=lifespan)
    if container is not None:
        app.state.container = container
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(auth.router)
    app.include_router(tasks.router)
    app.include_router(ws.router)

    @app.get("/login", include_in_schema=False)
    async def login_page() -> FileResponse:
        return FileResponse(WEB_DIR / "login.html", media_type="text/html")

    return app
