"""The recurrence editor: each preset's preview is exactly what the API
computes for the rule it shows; saving makes a recurring task; skip moves it."""

from pathlib import Path

from playwright.async_api import Locator, Page, expect

from tests.e2e.browser.conftest import USER_ZONE, Account, Axe, row

# A Thursday, three days before the clocks go forward in Berlin (30 March 2031).
START = "2031-03-27T09:00"
PRESETS = {
    "daily": ("Daily", "FREQ=DAILY"),
    "weekdays": ("Every weekday (Mon\N{EN DASH}Fri)", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
    "weekly": ("Weekly on Thursday", "FREQ=WEEKLY;BYDAY=TH"),
    "monthly-day": ("Monthly on the 27th", "FREQ=MONTHLY;BYMONTHDAY=27"),
    "monthly-nth": ("Monthly on the fourth Thursday", "FREQ=MONTHLY;BYDAY=4TH"),
    "monthly-last": ("Monthly on the last Thursday", "FREQ=MONTHLY;BYDAY=-1TH"),
    "yearly": ("Yearly on 27 March", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=27"),
}


async def api_preview(account: Account, rule: str, count: int = 5) -> list[str]:
    response = await account.api.post(
        "/api/recurrence/preview",
        json={"rule": rule, "start": START, "timezone": USER_ZONE, "count": count},
    )
    assert response.status_code == 200, response.text
    occurrences: list[str] = response.json()["occurrences"]
    return occurrences


async def shows(preview: Locator, expected: list[str]) -> None:
    times = preview.locator(".occurrences time")
    await expect(times).to_have_count(len(expected))
    for i, when in enumerate(expected):
        await expect(times.nth(i)).to_have_attribute("datetime", when)


async def open_new_task(page: Page, title: str) -> Locator:
    await page.get_by_role("button", name="New task").click()
    dialog = page.locator("dialog[open]")
    await dialog.get_by_label("Title").fill(title)
    await dialog.get_by_label("Due", exact=True).fill(START)
    return dialog


async def test_the_preview_matches_the_api_for_every_preset(
    page: Page, account: Account, shots: Path, axe: Axe
) -> None:
    dialog = await open_new_task(page, "Water the garden")
    repeats = dialog.get_by_label("Repeats", exact=True)
    preview = dialog.locator(".rec-preview")
    for preset, (label, rule) in PRESETS.items():
        await repeats.select_option(preset)
        await expect(repeats.locator("option:checked")).to_have_text(label)
        await expect(preview.locator(".rule-text")).to_have_text(rule)
        await shows(preview, await api_preview(account, rule))
    # The daily preview crosses the DST change: 09:00 stays 09:00 on the wall.
    await repeats.select_option("daily")
    await expect(preview.locator(".occurrences time").nth(3)).to_have_attribute(
        "datetime", "2031-03-30T09:00:00+02:00")

    await repeats.select_option("weekly")
    await dialog.get_by_title("Monday").click()
    await dialog.get_by_label("Every", exact=True).fill("2")
    await expect(preview.locator(".rule-text")).to_have_text("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH")
    await shows(preview, await api_preview(account, "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH"))
    await dialog.get_by_label("Ends", exact=True).select_option("count")
    await dialog.get_by_label("Number of times").fill("3")
    await shows(preview, await api_preview(account, "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=3"))
    await expect(preview).to_contain_text("The series ends there.")
    await dialog.screenshot(path=shots / "recurrence-editor.png")
    await axe.check(page, "task dialog with the recurrence editor")

    await repeats.select_option("custom")
    custom = dialog.get_by_label("RRULE (RFC 5545)")
    await expect(custom).to_have_value("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;COUNT=3")
    await custom.fill("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1")
    await shows(preview, await api_preview(account, "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1"))
    await custom.fill("FREQ=FORTNIGHTLY")
    await expect(preview.locator(".preview-note.error")).to_contain_text("FREQ")
    await expect(preview.locator(".occurrences time")).to_have_count(0)


async def test_saving_makes_a_recurring_task_and_skip_moves_it(
    page: Page, account: Account
) -> None:
    dialog = await open_new_task(page, "Team retro")
    await dialog.get_by_label("Repeats", exact=True).select_option("weekly")
    await dialog.get_by_title("Monday").click()
    await dialog.get_by_text("when I complete it").click()
    await dialog.get_by_role("button", name="Add task").click()
    await expect(dialog).to_be_hidden()

    item = row(page, "Team retro")
    await expect(item.locator(".repeat")).to_contain_text("weekly on Mon, Thu after done")
    [task] = await account.tasks()
    assert task["recurrence_rule"] == "FREQ=WEEKLY;BYDAY=MO,TH"
    assert task["repeat_from"] == "completion"
    assert task["due_at"] == "2031-03-27T09:00:00+01:00"

    # Opening it again shows the same choices.
    await item.locator(".task-title").click()
    reopened = page.locator("dialog[open]")
    await expect(reopened.get_by_label("Repeats", exact=True)).to_have_value("weekly")
    await expect(reopened.locator(".rule-text")).to_have_text("FREQ=WEEKLY;BYDAY=MO,TH")
    await page.keyboard.press("Escape")

    await item.get_by_role("button", name="Skip this occurrence of “Team retro”").click()
    await expect(item.locator(".due time")).to_have_attribute(
        "datetime", "2031-03-31T09:00:00+02:00")
    [moved] = await account.tasks()
    assert moved["due_at"] == "2031-03-31T09:00:00+02:00"
