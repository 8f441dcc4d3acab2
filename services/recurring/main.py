"""recurring-task: its app (health, metrics, subscriptions)."""

from fastapi import FastAPI

from services import app
from services.bootstrap import Container


def build_app(container: Container | None = None) -> FastAPI:
    return app.build_app(container, service="recurring-task")
