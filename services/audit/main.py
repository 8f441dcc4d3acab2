"""audit: its app (health, metrics, subscriptions, routes)."""

from fastapi import FastAPI

from services import app
from services.bootstrap import Container


def build_app(container: Container | None = None) -> FastAPI:
    return app.build_app(container, service="audit")
