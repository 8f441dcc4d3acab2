"""The API docs in Chromium: Swagger UI and ReDoc render every operation from
the app's own assets, under its content security policy, with no error in the
console and no request to another host. ReDoc's footer always asks for
Redocly's logo from Redocly's CDN: the policy blocks it before it is sent,
and that refusal is the only message its page logs."""

from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Request, expect

from tests.e2e.browser.conftest import NewContext, WebApp


async def test_swagger_ui_and_redoc_render_offline_under_the_policy(
    web: WebApp, new_context: NewContext, shots: Path
) -> None:
    page = await (await new_context()).new_page()
    # Any error counts here, even a failed load: nothing may be missing.
    failed: list[str] = []
    page.on("pageerror", lambda error: failed.append(str(error)))
    page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    ours = urlsplit(web.url).netloc
    sent: set[str] = set()

    def seen(request: Request) -> None:
        if urlsplit(request.url).scheme not in ("blob", "data"):  # in the page itself
            sent.add(urlsplit(request.url).netloc)

    def blocked(request: Request) -> None:
        if urlsplit(request.url).netloc != ours and request.failure == "csp":
            sent.discard(urlsplit(request.url).netloc)  # refused by the page, never sent

    page.on("request", seen)
    page.on("requestfailed", blocked)

    await page.goto(web.url + "/docs")
    operations = page.locator(".opblock")
    await expect(operations.first).to_be_visible()
    await expect(page.locator(".opblock-summary-path", has_text="/api/tasks").first).to_be_visible()
    assert await operations.count() > 30
    await page.locator(".opblock-summary-path", has_text="/api/tasks").first.click()
    await expect(page.locator(".opblock-body").first).to_be_visible()
    await page.screenshot(path=shots / "docs-swagger.png")
    assert failed == []

    await page.goto(web.url + "/redoc")
    await expect(page.get_by_role("heading", name="todo-app").first).to_be_visible()
    await expect(page.locator("[data-section-id^='operation/']").first).to_be_attached()
    assert await page.locator("[data-section-id^='operation/']").count() > 30
    await page.screenshot(path=shots / "docs-redoc.png")

    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    assert [m for m in failed if logo not in m] == []
    assert sent == {ours}
