"""/docs (Swagger UI) and /redoc (ReDoc) work offline: every script, style and
image they reference is on the app's own origin and served by it."""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from services.shared.middleware import CSP

BASE = "http://test"


class _References(HTMLParser):
    """Every URL an HTML page would load or link to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in ("src", "href", "spec-url", "data", "action", "poster"):
                self.urls.append(value)
        self._in_script = tag == "script" and not dict(attrs).get("src")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts.append(data)
        # URLs written inside inline scripts and styles (Swagger UI's `url: '...'`)
        self.urls += re.findall(r"""https?://[^\s'"<>)]+""", data)
        self.urls += re.findall(r"""\burl:\s*['"]([^'"]+)['"]""", data)


def _css_urls(css: str) -> list[str]:
    return [u.strip("'\"") for u in re.findall(r"url\(([^)]+)\)", css)]


@pytest.mark.parametrize(
    ("page", "expected_assets"),
    [
        ("/docs", {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"}),
        ("/redoc", {"/docs/assets/redoc.standalone.js"}),
    ],
)
async def test_a_docs_page_loads_nothing_from_another_host(
    client: httpx.AsyncClient, page: str, expected_assets: set[str]
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    references = _References()
    references.feed(response.text)
    urls = {urljoin(BASE + page, u) for u in references.urls}
    outside = {u for u in urls if urlsplit(u).netloc != urlsplit(BASE).netloc}
    assert outside == set(), f"{page} references other hosts: {outside}"
    paths = {urlsplit(u).path for u in urls}
    assert expected_assets <= paths
    assert "/openapi.json" in paths

    # Every asset it references is ours, with its type; so is what the styles load.
    kinds = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}
    for path in sorted(paths):
        asset = await client.get(path)
        assert asset.status_code == 200, path
        suffix = next(s for s in kinds if path.endswith(s))
        assert kinds[suffix] in asset.headers["content-type"], (path, asset.headers)
        if suffix == ".css":
            for url in _css_urls(asset.text):
                assert url.startswith("data:") or not urlsplit(url).netloc, (path, url)

    # The page runs under the app's policy; its inline start-up script only by its nonce.
    policy = response.headers["content-security-policy"]
    (nonce,) = re.findall(r"'nonce-([^']+)'", policy)
    assert policy.replace(f" 'nonce-{nonce}'", "").removesuffix("; worker-src 'self' blob:") == CSP
    assert response.text.count(f'<script nonce="{nonce}">') == len(references.inline_scripts)


async def test_each_docs_page_gets_a_fresh_nonce(client: httpx.AsyncClient) -> None:
    first, second = (await client.get("/docs"), await client.get("/docs"))
    nonces = [
        re.findall(r"'nonce-([^']+)'", r.headers["content-security-policy"])
        for r in (first, second)
    ]
    assert len(nonces[0]) == 1
    assert len(nonces[1]) == 1
    assert nonces[0] != nonces[1]
    assert f'<script nonce="{nonces[0][0]}">' in first.text
