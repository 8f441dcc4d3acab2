"""The API's documentation pages: `/docs` (Swagger UI) and `/redoc` (ReDoc).

Their scripts and styles come from the `fastapi-offline` package and are served
by the app itself under `/docs/assets`, so the pages work without internet and
under the same content security policy as everything else; the one inline
script Swagger UI needs to start is allowed by a nonce made for each answer."""

import secrets
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from services.shared.middleware import CSP

ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_URL = "/docs/assets"
SWAGGER_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def _with_nonce(page: HTMLResponse, *, extra: str = "") -> HTMLResponse:
    """The page with its inline scripts allowed by a fresh nonce; `extra`
    directives are added to the app's policy, nothing else is loosened."""
    nonce = secrets.token_urlsafe(16)
    html = bytes(page.body).decode().replace("<script>", f'<script nonce="{nonce}">')
    policy = CSP.replace("script-src 'self'", f"script-src 'self' 'nonce-{nonce}'") + extra
    return HTMLResponse(
        html, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"}
    )


def mount_docs(app: FastAPI) -> None:
    """Add /docs, /redoc and their assets to an app made with docs_url=None, redoc_url=None."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(SWAGGER_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_nonce(
            get_swagger_ui_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
            )
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return _with_nonce(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_nonce(
            get_redoc_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            ),
            # ReDoc's search index runs in a worker it starts from a blob: URL.
            # Its footer's Redocly logo (an image on Redocly's CDN) stays blocked
            # by img-src: the page loads nothing from another host.
            extra="; worker-src 'self' blob:",
        )
