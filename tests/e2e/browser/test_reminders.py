"""Reminders: the picker sets them; when one fires the page shows a toast
once, the inbox lists it, and the browser's own notification is used when
the user allowed it and is looking elsewhere."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Page, expect

from tests.e2e.browser.conftest import Account, Axe, OpenPage, row

# The browser's Notification API, recorded (headless Chromium shows nothing),
# as if the user had allowed it and were looking at another window.
DESKTOP = """
window.__shown = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.__shown.push({ title, ...options }); }
  close() {}
};
document.hasFocus = () => false;
"""
TWELVE_HOUR_DUE = re.compile(r"^Due (today|tomorrow) \d{1,2}:\d{2}\s(AM|PM|am|pm)$")


async def test_a_reminder_pops_a_toast_once_and_lands_in_the_inbox(
    open_page: OpenPage, account: Account, shots: Path, axe: Axe
) -> None:
    # The reminder's due time is written in the account's format, here 12-hour
    # in a browser whose language writes 24-hour times.
    changed = await account.api.patch("/api/auth/me", json={"time_format": "12h"})
    assert changed.status_code == 200, changed.text
    page = await open_page(init_script=DESKTOP)
    now = datetime.now(UTC)
    task = await account.add(
        title="Stretch your legs",
        due_at=(now + timedelta(hours=1)).isoformat(),
        remind_at=(now + timedelta(seconds=3)).isoformat(),
    )
    toast = page.locator(".toast-reminder", has_text="Stretch your legs")
    await expect(toast).to_be_visible(timeout=30_000)
    await expect(toast.locator(".toast-body")).to_have_text(TWELVE_HOUR_DUE)
    await page.screenshot(path=shots / "reminder-toast.png")
    await axe.check(page, "reminder toast")
    badge = page.locator("#inbox-button .badge")
    await expect(badge).to_have_text("1")
    await expect(page.locator("#inbox-button")).to_have_attribute(
        "aria-label", "Notifications, 1 unread")
    shown = await page.evaluate("window.__shown")
    assert [n["title"] for n in shown] == ["Stretch your legs"]
    assert TWELVE_HOUR_DUE.match(shown[0]["body"]), shown

    await page.wait_for_timeout(2000)  # a second delivery would have arrived by now
    await expect(toast).to_have_count(1)

    await page.locator("#inbox-button").click()
    inbox = page.locator("#inbox-panel")
    await expect(inbox).to_be_visible()
    note = inbox.locator("li.note.unread", has_text="Stretch your legs")
    await expect(note).to_be_visible()
    await expect(note.locator(".note-body")).to_have_text(TWELVE_HOUR_DUE)
    await page.screenshot(path=shots / "inbox.png")
    await axe.check(page, "inbox open with an unread reminder")
    await note.get_by_role("button", name="Mark read “Stretch your legs”").click()
    await expect(inbox.locator("li.note.unread")).to_have_count(0)
    await expect(badge).to_be_hidden()
    notes = (await account.api.get("/api/notifications")).json()["items"]
    assert [(n["task_id"], n["read_at"] is not None) for n in notes] == [(task["id"], True)]

    # The inbox is the server's: a fresh window shows the same, already read.
    await page.reload()
    await page.locator("#inbox-button").click()
    await expect(page.locator("#inbox-panel li.note", has_text="Stretch your legs")).to_be_visible()
    await expect(page.locator("#inbox-button .badge")).to_be_hidden()


async def test_the_reminder_picker(page: Page, account: Account) -> None:
    await page.get_by_role("button", name="New task").click()
    dialog = page.locator("dialog[open]")
    await dialog.get_by_label("Title").fill("Take out the bins")
    await dialog.get_by_label("Due", exact=True).fill("2031-05-06T19:30")
    await dialog.get_by_label("Reminder").select_option("before")
    await dialog.get_by_label("How long before").select_option("15")
    await expect(dialog.locator("#te-remind-help")).to_have_text("At Tue, 6 May 2031, 19:15.")
    await dialog.get_by_role("button", name="Add task").click()
    await expect(row(page, "Take out the bins").locator(".remind")).to_contain_text("19:15")
    [task] = await account.tasks()
    assert task["due_at"] == "2031-05-06T19:30:00+02:00"
    assert task["remind_at"] == "2031-05-06T19:15:00+02:00"

    # Reopened, the picker reads it back; moving the due time moves the reminder.
    await row(page, "Take out the bins").locator(".task-title").click()
    await expect(dialog.get_by_label("Reminder")).to_have_value("before")
    await expect(dialog.get_by_label("How long before")).to_have_value("15")
    await dialog.get_by_label("Due", exact=True).fill("2031-05-06T20:00")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(dialog).to_be_hidden()
    moved = await account.task(task["id"])
    assert moved is not None
    assert moved["remind_at"] == "2031-05-06T19:45:00+02:00"

    await row(page, "Take out the bins").locator(".task-title").click()
    await dialog.get_by_label("Reminder").select_option("at")
    await dialog.get_by_label("Remind at").fill("2031-05-06T08:00")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(dialog).to_be_hidden()
    at_time = await account.task(task["id"])
    assert at_time is not None
    assert at_time["remind_at"] == "2031-05-06T08:00:00+02:00"
