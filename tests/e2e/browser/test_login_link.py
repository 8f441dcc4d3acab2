"""Local mode in Chromium: signed out, the page tells the local user to run
`todo login-link`, and the link that command prints (a real child process on
the same data) signs them in again. A server without a local user says
nothing about it."""

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Page, expect

from services.bootstrap import Container
from tests.e2e.browser.conftest import NewContext, PageErrors, WebApp

REPO = Path(__file__).resolve().parents[3]


@dataclass
class LocalWebApp(WebApp):
    """The app as `make run` serves it: with the local user."""

    def new_container(self) -> Container:
        container = super().new_container()
        container.settings.local_user = True
        return container


async def todo_login_link(web: WebApp) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": web.database_url,
        "JWT_PRIVATE_KEY_FILE": str(web.key_file),
        "DATA_DIR": str(web.data_dir),
        "LOCAL_USER": "true",
        "PYTHONPATH": str(REPO),
    }
    printed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "login-link", "--url", web.url],
        env=env, cwd=web.data_dir, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    link = printed.stdout.strip()
    assert link.startswith(f"{web.url}/login?token=")
    return link


async def signed_in_by(page: Page, link: str, web: WebApp) -> None:
    await page.goto(link)
    await page.wait_for_url(f"{web.url}/")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#account-email")).to_have_text("me@todo.localhost")


async def test_signed_out_the_local_user_is_told_to_run_todo_login_link(
    web: WebApp, new_context: NewContext, page_errors: PageErrors, shots: Path
) -> None:
    await web.stop()
    local = LocalWebApp(web.database_url, web.key_file, web.data_dir)
    await local.start()
    try:
        page = page_errors.watch(await (await new_context()).new_page())
        first = await todo_login_link(local)
        await signed_in_by(page, first, local)

        await page.locator(".account summary").click()
        await page.get_by_role("button", name="Sign out").click()
        hint = page.locator("#local-hint")
        await expect(page.locator("#signin")).to_be_visible()
        await expect(hint).to_be_visible()
        await expect(hint).to_contain_text("Run todo login-link in a terminal for a fresh one")
        await page.screenshot(path=shots / "signed-out-local.png")

        # The spent link explains itself, and says how to get a fresh one.
        await page.goto(first)
        await expect(page.locator("#status")).to_have_class("error")
        await expect(page.locator("#after-error #local-hint")).to_be_visible()
        await expect(page.locator("#after-error")).to_contain_text("Run todo login-link")

        await signed_in_by(page, await todo_login_link(local), local)
    finally:
        await local.stop()


async def test_without_a_local_user_the_page_does_not_mention_it(
    web: WebApp, new_context: NewContext, page_errors: PageErrors
) -> None:
    page = page_errors.watch(await (await new_context()).new_page())
    await page.goto(web.url + "/")
    await expect(page.locator("#signin-email")).to_be_visible()
    # The page has asked the server: the hint stays hidden.
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("#local-hint")).to_be_hidden()
    await page.goto(web.url + "/login?token=todo_link_not-a-real-one")
    await expect(page.locator("#after-error")).to_be_visible()
    await page.wait_for_load_state("networkidle")
    await expect(page.locator("#local-hint")).to_be_hidden()
