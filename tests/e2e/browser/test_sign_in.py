"""Signed out, the page offers sign-in and registration (and, in local mode,
the local-user link: test_login_link.py); the link that `make run` prints
opens straight into the page."""

import uuid
from pathlib import Path

from playwright.async_api import Page, expect

from tests.e2e.browser.conftest import (
    Account,
    Axe,
    NewContext,
    PageErrors,
    WebApp,
    login_link,
)


async def test_signed_out_the_page_offers_sign_in_register_and_the_local_link(
    web: WebApp, new_context: NewContext, page_errors: PageErrors, shots: Path, axe: Axe
) -> None:
    page = page_errors.watch(await (await new_context()).new_page())
    await page.goto(web.url + "/")
    signin = page.locator("#signin")
    await expect(signin).to_be_visible()
    await expect(page.locator("#app")).to_be_hidden()
    await expect(page.locator("#local-hint")).to_be_hidden()  # no local user on this server
    await expect(page.locator("#signin-email")).to_be_focused()
    await page.screenshot(path=shots / "signed-out.png")
    await axe.check(page, "sign-in page")

    await page.get_by_role("button", name="Create account").click()
    await axe.check(page, "registration form")
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    await page.get_by_label("Your name").fill("Ada")
    await page.locator("#register-email").fill(email)
    await page.locator("#register-password").fill("correct horse battery")
    await page.locator("#register-password").press("Enter")

    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await expect(page.locator("#chat-log")).to_contain_text("Hi Ada")
    await expect(page.locator("#composer-input")).to_be_focused()
    await page.screenshot(path=shots / "empty.png")
    await axe.check(page, "empty board")

    # Signing out and in again with the password.
    await page.locator(".account summary").click()
    await page.get_by_role("button", name="Sign out").click()
    await expect(signin).to_be_visible()
    await page.locator("#signin-email").fill(email)
    await page.locator("#signin-password").fill("wrong password!")
    await page.locator("#signin-password").press("Enter")
    await expect(page.locator("#signin-error")).to_contain_text("do not match")
    await axe.check(page, "sign-in error")
    await page.locator("#signin-password").fill("correct horse battery")
    await page.locator("#signin-password").press("Enter")
    await expect(page.locator("#app")).to_be_visible()


async def test_the_login_link_opens_the_page_signed_in(
    web: WebApp, account: Account, new_context: NewContext, page_errors: PageErrors
) -> None:
    page = page_errors.watch(await (await new_context()).new_page())
    link = await login_link(web, account)
    await page.goto(link)
    await page.wait_for_url(web.url + "/")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#account-email")).to_have_text(account.email)
    await expect(page.locator("#account-zone")).to_have_text("Europe/Berlin")
    # The link is spent: a second window cannot use it.
    other: Page = page_errors.watch(await (await new_context()).new_page())
    await other.goto(link)
    await expect(other.locator("#status")).to_have_class("error")


async def test_an_expired_token_returns_to_the_sign_in_screen(
    web: WebApp, new_context: NewContext, page_errors: PageErrors
) -> None:
    context = await new_context()
    await context.add_init_script("localStorage.setItem('todo.token', 'not-a-valid-token')")
    page = page_errors.watch(await context.new_page())
    await page.goto(web.url + "/")
    await expect(page.locator("#signin")).to_be_visible()
    await expect(page.locator("#signin-notice")).to_contain_text("Sign in again")
