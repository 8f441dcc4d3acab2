"""Account settings in the page (name, time zone, time format) and one clock
format everywhere: the board, the task form and the assistant's answers, in
two browser locales."""

import re
from datetime import timedelta

from playwright.async_api import Page, expect

from services.shared.auth import accounts
from tests.e2e.browser.conftest import (
    Account,
    Axe,
    NewContext,
    OpenPage,
    PageErrors,
    WebApp,
    row,
    send_chat,
)

TWELVE = re.compile(r"\b5:00\s(PM|pm)")
MAY_SIX = "2031-05-06T17:00:00+02:00"  # 17:00 in the account's zone (Europe/Berlin)


async def open_settings(page: Page) -> Page:
    await page.locator("details.account summary").click()
    await page.get_by_role("button", name="Settings").click()
    await expect(page.get_by_role("dialog", name="Settings")).to_be_visible()
    return page


async def save_settings(page: Page) -> None:
    dialog = page.get_by_role("dialog", name="Settings")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()


async def test_times_follow_the_locale_until_the_account_says_otherwise(
    open_page: OpenPage, account: Account
) -> None:
    await account.add(title="Dentist", due_at=MAY_SIX)

    # An American browser writes 12-hour times: the board, the form and the assistant.
    us = await open_page(locale="en-US")
    await expect(row(us, "Dentist").locator(".due")).to_have_text(TWELVE)
    await send_chat(us, "buy milk tomorrow at 5pm")
    await expect(us.locator(".msg-assistant .bubble").last).to_have_text(
        re.compile(r"due tomorrow 5:00 PM"))
    await expect(row(us, "Buy milk").locator(".due")).to_have_text(
        re.compile(r"^tomorrow 5:00\sPM$"))
    await row(us, "Dentist").locator(".task-title").click()
    form = us.get_by_role("dialog", name="Edit task")
    await expect(form.locator("#te-due-help")).to_have_text(TWELVE)
    await expect(form.get_by_role("button", name=re.compile("^Tomorrow"))).to_have_text(
        re.compile(r"^Tomorrow 9:00\sAM$"))
    await us.keyboard.press("Escape")

    # A British one writes 24-hour times.
    gb = await open_page(locale="en-GB")
    await expect(row(gb, "Dentist").locator(".due")).to_have_text(re.compile(r"17:00$"))
    await send_chat(gb, "buy eggs tomorrow at 5pm")
    await expect(gb.locator(".msg-assistant .bubble").last).to_have_text(
        re.compile(r"due tomorrow 17:00"))
    await expect(row(gb, "Buy eggs").locator(".due")).to_have_text("tomorrow 17:00")

    # The account's choice wins over the locale, at once and in the answers.
    await open_settings(us)
    await us.get_by_label("Time format").select_option("24h")
    await save_settings(us)
    await expect(row(us, "Dentist").locator(".due")).to_have_text(re.compile(r"17:00$"))
    await expect(row(us, "Buy milk").locator(".due")).to_have_text("tomorrow 17:00")
    await send_chat(us, "buy bread tomorrow at 5pm")
    await expect(us.locator(".msg-assistant .bubble").last).to_have_text(
        re.compile(r"due tomorrow 17:00"))
    assert (await account.api.get("/api/auth/me")).json()["time_format"] == "24h"

    # The setting travels with the account: the British window, reloaded, writes 12-hour.
    await open_settings(us)
    await us.get_by_label("Time format").select_option("12h")
    await save_settings(us)
    await gb.reload()
    await expect(row(gb, "Dentist").locator(".due")).to_have_text(TWELVE)
    await send_chat(gb, "buy jam tomorrow at 5pm")
    await expect(gb.locator(".msg-assistant .bubble").last).to_have_text(
        re.compile(r"due tomorrow 5:00 PM"))


async def test_changing_the_name_and_the_zone(page: Page, account: Account, axe: Axe) -> None:
    await account.add(title="Dentist", due_at=MAY_SIX)
    await expect(page.locator(".welcome h3")).to_have_text("Hi Robin, what needs doing?")
    await expect(row(page, "Dentist").locator(".due")).to_have_text("6 May 2031 17:00")

    await open_settings(page)
    dialog = page.get_by_role("dialog", name="Settings")
    await expect(dialog.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    await axe.check(page, "settings open")
    # A zone the server does not know is refused at the field; nothing changes.
    await dialog.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog.locator("#settings-zone-error")).to_contain_text("Mars/Olympus_Mons")
    await expect(dialog.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true")
    await axe.check(page, "settings showing an error")
    assert (await account.api.get("/api/auth/me")).json()["timezone"] == "Europe/Berlin"

    await dialog.get_by_label("Time zone").fill("Asia/Tokyo")
    await dialog.get_by_label("Your name").fill("Sam")
    await save_settings(page)
    # The board's times move to the new zone at once, the greeting takes the new name.
    await expect(row(page, "Dentist").locator(".due")).to_have_text("7 May 2031 00:00")
    await expect(page.locator(".welcome h3")).to_have_text("Hi Sam, what needs doing?")
    await expect(page.locator("#account-zone")).to_have_text("Asia/Tokyo")

    # Later phrases are read in the new zone.
    await send_chat(page, "call the bank tomorrow at 9")
    await expect(row(page, "Call the bank")).to_be_visible()
    [task] = await account.tasks(q="bank")
    assert task["timezone"] == "Asia/Tokyo"
    assert task["due_at"].endswith("T09:00:00+09:00")

    # An empty name removes it.
    await page.get_by_role("button", name="New chat").click()
    await open_settings(page)
    await dialog.get_by_label("Your name").fill("")
    await save_settings(page)
    await expect(page.locator(".welcome h3")).to_have_text("What needs doing?")
    assert (await account.api.get("/api/auth/me")).json()["display_name"] is None


async def test_the_local_user_is_greeted_without_a_made_up_name(
    web: WebApp, new_context: NewContext, page_errors: PageErrors
) -> None:
    assert web.container is not None
    async with web.container.uow() as uow:
        local = await accounts.ensure_local_user(uow, email="me@todo.localhost", timezone="UTC")
    async with web.container.uow() as uow:
        secret = await accounts.create_login_link(
            uow, user_id=local.user_id, ttl=timedelta(minutes=5)
        )
    page = page_errors.watch(await (await new_context()).new_page())
    await page.goto(f"{web.url}/login?token={secret}")
    await expect(page.locator(".welcome h3")).to_have_text("What needs doing?")
    await open_settings(page)
    await page.get_by_role("dialog", name="Settings").get_by_label("Your name").fill("Kim")
    await save_settings(page)
    await expect(page.locator(".welcome h3")).to_have_text("Hi Kim, what needs doing?")
    await page.reload()
    await expect(page.locator(".welcome h3")).to_have_text("Hi Kim, what needs doing?")
