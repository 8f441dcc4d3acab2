"""Phone width, light and dark themes, and keyboard-only use with labelled
controls."""

import re
from pathlib import Path

from playwright.async_api import Page, expect

from tests.e2e.browser.conftest import Account, Axe, OpenPage, row, send_chat

UNNAMED_CONTROLS = """() => [
  ...document.querySelectorAll("input, select, textarea, button, a[href]")]
  .filter((el) => el.offsetParent !== null || el.getClientRects().length)
  .filter((el) => {
    const name = (el.getAttribute("aria-label") || "").trim()
      || (el.labels && [...el.labels].map((l) => l.textContent.trim()).join(""))
      || (el.getAttribute("aria-labelledby") || "").split(" ").map((id) =>
           document.getElementById(id)?.textContent.trim() || "").join("")
      || (["BUTTON", "A"].includes(el.tagName) ? el.textContent.trim() : "")
      || el.getAttribute("title") || "";
    return !name;
  })
  .map((el) => el.outerHTML.slice(0, 120))"""

PHONE = 390
# How far the furthest visible element reaches past the right edge of a phone
# (a mobile browser widens the page to fit what sticks out, so measure the parts).
OVERFLOW = f"""() => Math.max(window.innerWidth, document.documentElement.scrollWidth,
  ...[...document.querySelectorAll("#app *")].filter((el) => el.getClientRects().length)
  .map((el) => el.getBoundingClientRect().right)) - {PHONE}"""


async def busy(account: Account) -> None:
    await account.add(title="Pay the electricity bill", priority="high", tags=["bills"],
                      due_at="2031-05-06T18:00:00+02:00")
    await account.add(title="Call grandma", priority="medium", tags=["family"],
                      recurrence_rule="FREQ=WEEKLY;BYDAY=SU", due_at="2031-05-04T11:00:00+02:00")
    await account.add(title="Pick up the dry cleaning with the blue receipt from the drawer",
                      tags=["errands", "town"], due_at="2031-05-07T09:00:00+02:00",
                      remind_at="2031-05-07T08:30:00+02:00")


async def test_a_phone_sized_screen(
    open_page: OpenPage, account: Account, shots: Path, axe: Axe
) -> None:
    await busy(account)
    page = await open_page(viewport={"width": PHONE, "height": 844}, is_mobile=True,
                           has_touch=True, device_scale_factor=2)
    chat, board = page.locator("#chat"), page.locator("#board")
    await expect(chat).to_be_visible()
    await expect(board).to_be_hidden()
    assert await page.evaluate(OVERFLOW) <= 0
    await page.screenshot(path=shots / "phone-chat.png")
    await axe.check(page, "phone, chat")

    await page.get_by_role("button", name="Tasks", exact=True).click()
    await expect(board).to_be_visible()
    await expect(chat).to_be_hidden()
    await expect(page.locator("#task-list li.task")).to_have_count(3)
    assert await page.evaluate(OVERFLOW) <= 0
    await page.screenshot(path=shots / "phone-board.png")
    await axe.check(page, "phone, board")

    await row(page, "Call grandma").locator(".task-title").click()
    dialog = page.locator("dialog[open]")
    await expect(dialog.locator(".occurrences time")).to_have_count(5)
    box = await dialog.bounding_box()
    assert box is not None
    assert box["width"] <= PHONE
    await page.screenshot(path=shots / "phone-editor.png")
    await axe.check(page, "phone, task dialog")
    await page.keyboard.press("Escape")

    # A chip in the chat takes the phone to the board, at the task.
    await page.get_by_role("button", name="Chat", exact=True).click()
    await send_chat(page, "buy bread tomorrow #errands")
    await page.locator(".chip.ok a.chip-link").click()
    await expect(board).to_be_visible()
    await expect(row(page, "Buy bread")).to_be_in_viewport()


async def test_dark_and_light_themes(
    open_page: OpenPage, account: Account, shots: Path, axe: Axe
) -> None:
    await busy(account)
    page = await open_page(color_scheme="dark")
    background = "() => getComputedStyle(document.body).backgroundColor"
    dark = await page.evaluate(background)
    assert dark == "rgb(14, 16, 20)", dark  # the system's dark preference is followed
    await send_chat(page, "renew the passport on march 3rd #admin p1")
    await expect(page.locator(".chip.ok")).to_be_visible()
    await page.screenshot(path=shots / "dark.png")
    await axe.check(page, "dark theme, busy board and chat")

    toggle = page.get_by_role("button", name="Use the light theme")
    await toggle.click()
    assert await page.evaluate(background) == "rgb(245, 246, 248)"
    await page.reload()  # the choice is remembered
    await expect(page.locator("#app")).to_be_visible()
    assert await page.evaluate(background) == "rgb(245, 246, 248)"
    await expect(page.get_by_role("button", name="Use the dark theme")).to_be_visible()


async def test_keyboard_only_with_labelled_controls(
    page: Page, account: Account, axe: Axe
) -> None:
    await busy(account)
    await expect(page.locator("#task-list li.task")).to_have_count(3)
    assert await page.evaluate(UNNAMED_CONTROLS) == []

    skip = page.get_by_role("link", name="Skip to the message box")
    await expect(skip).not_to_be_in_viewport()  # out of sight until focused
    await skip.focus()
    await expect(skip).to_be_in_viewport()
    await page.keyboard.press("Enter")
    await expect(page.locator("#composer-input")).to_be_focused()

    new_task = page.get_by_role("button", name="New task")
    await new_task.focus()
    await page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    await expect(dialog.get_by_label("Title")).to_be_focused()
    assert await page.evaluate(UNNAMED_CONTROLS) == []
    await axe.check(page, "new task dialog")
    await page.keyboard.type("Sharpen the pencils")
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(new_task).to_be_focused()  # focus goes back where it was
    item = row(page, "Sharpen the pencils")
    await expect(item).to_be_visible()
    # A row the server has not confirmed yet is drawn again when it does; a key
    # pressed across that moment would land on the old row.
    settled = re.compile(r"^(?!.*\bpending\b)")
    await expect(item).to_have_class(settled)

    await item.get_by_role("checkbox").focus()
    await page.keyboard.press("Space")
    await expect(page.locator("#done-list .task-title")).to_have_text(["Sharpen the pencils"])
    # Focus follows the task into the completed list: Space again reopens it.
    reopen = page.get_by_role("checkbox", name="Reopen “Sharpen the pencils”")
    await expect(item).to_have_class(settled)
    await expect(reopen).to_be_focused()
    await page.keyboard.press("Space")
    await expect(page.locator("#task-list .task-title", has_text="Sharpen")).to_be_visible()

    await page.keyboard.press("/")
    await expect(page.locator("#composer-input")).to_be_focused()

    await page.locator("#inbox-button").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#inbox-panel")).to_be_visible()
    await axe.check(page, "inbox open, empty")
    await page.keyboard.press("Escape")
    await expect(page.locator("#inbox-panel")).to_be_hidden()
    await expect(page.locator("#inbox-button")).to_be_focused()


DOCUMENT_OVERFLOW = """() => ({
  document: Math.max(document.documentElement.scrollHeight, document.body.scrollHeight),
  window: window.innerHeight, scrolled: window.scrollY })"""


async def test_a_long_board_scrolls_inside_its_pane(open_page: OpenPage, account: Account) -> None:
    # Recurring tasks carry a visually hidden "Repeats" label; none of it may
    # stretch the document beyond the window.
    for n in range(40):
        await account.add(title=f"Chore number {n}", recurrence_rule="FREQ=WEEKLY",
                          due_at="2031-05-04T11:00:00+02:00", tags=["home"], priority="low")
    page = await open_page(viewport={"width": 1280, "height": 800})
    await expect(page.locator("#task-list li.task")).to_have_count(40)
    sizes = await page.evaluate(DOCUMENT_OVERFLOW)
    assert sizes["document"] <= sizes["window"], sizes

    last = page.locator("#task-list li.task").last
    await last.scroll_into_view_if_needed()
    await expect(last).to_be_in_viewport()
    await expect(page.locator(".topbar")).to_be_in_viewport()
    sizes = await page.evaluate(DOCUMENT_OVERFLOW)
    assert sizes["document"] <= sizes["window"], sizes
    assert sizes["scrolled"] == 0, sizes
