"""Chat against the real POST /api/chat (the offline assistant: no model):
streamed answers, tool chips that link to the board, the held delete that
waits for yes, and the history of conversations."""

from pathlib import Path

from playwright.async_api import Page, expect

from tests.e2e.browser.conftest import Account, Axe, row, send_chat


async def test_a_task_added_in_chat_appears_on_the_board(
    page: Page, account: Account, shots: Path, axe: Axe
) -> None:
    composer = page.locator("#composer-input")
    await composer.fill("first line")
    await composer.press("Shift+Enter")
    await composer.press_sequentially("second line")
    await expect(composer).to_have_value("first line\nsecond line")
    await expect(page.locator(".msg-user")).to_have_count(0)  # Shift+Enter did not send
    await composer.fill("")

    await send_chat(page, "buy milk tomorrow at 5pm #errands p1")
    await expect(page.locator(".msg-user .bubble")).to_have_text(
        "buy milk tomorrow at 5pm #errands p1")
    await expect(composer).to_have_value("")
    await expect(composer).to_be_focused()
    chip = page.locator(".chip.ok[data-tool=add_task]")
    await expect(chip).to_contain_text("Added")
    await expect(chip.locator("a.chip-link")).to_have_text("Buy milk")
    await expect(page.locator(".msg-assistant .bubble").last).to_contain_text("Buy milk")
    await expect(page.locator("#send")).to_have_attribute("aria-label", "Send")  # stream ended

    item = row(page, "Buy milk")
    await expect(item.locator(".due")).to_have_text("tomorrow 17:00")
    await expect(item.locator(".tag")).to_have_text("#errands")
    await expect(item.locator(".prio-badge")).to_have_text("High")
    await page.screenshot(path=shots / "chat-tool-chips.png")
    await axe.check(page, "chat with tool chips")

    await chip.locator("a.chip-link").click()
    await expect(item).to_have_class("task prio-high flash")
    await expect(item.locator(".task-title")).to_be_focused()

    [task] = await account.tasks()
    await item.get_by_role("checkbox").click()
    await expect(page.locator("#done-list .task-title")).to_have_text(["Buy milk"])
    await account.settles(task["id"], "completed")
    await page.locator("#done-list").get_by_role("checkbox", name="Reopen “Buy milk”").click()
    await expect(page.locator("#task-list .task-title")).to_have_text(["Buy milk"])
    await account.settles(task["id"], "active")


async def test_a_delete_asked_in_chat_waits_for_yes(
    page: Page, account: Account, axe: Axe
) -> None:
    task = await account.add(title="Water the plants")
    await expect(row(page, "Water the plants")).to_be_visible()

    await send_chat(page, "delete water the plants")
    card = page.locator(".confirm-card").last
    await expect(card).to_contain_text("Water the plants")
    await expect(card.get_by_role("button", name="Yes", exact=True)).to_be_visible()
    await expect(page.locator("#composer-input")).to_be_focused()  # typing "yes" works too
    await expect(page.locator("#send")).to_have_attribute("aria-label", "Send")
    assert await account.task(task["id"]) is not None  # held, not done
    await axe.check(page, "chat asking for a yes")

    await card.get_by_role("button", name="No", exact=True).click()
    await expect(card).to_contain_text("You said no.")
    await expect(page.locator(".msg-user .bubble").last).to_have_text("no")
    await expect(page.locator("#send")).to_have_attribute("aria-label", "Send")
    assert await account.task(task["id"]) is not None
    await expect(row(page, "Water the plants")).to_be_visible()

    await send_chat(page, "delete water the plants")
    card = page.locator(".confirm-card:not(.resolved)")
    await card.get_by_role("button", name="Yes", exact=True).click()
    await expect(page.locator(".chip.ok[data-tool=delete_task]")).to_contain_text("Deleted")
    await expect(row(page, "Water the plants")).to_have_count(0)
    assert await account.task(task["id"]) is None


async def test_past_conversations_are_listed_and_reopened(
    page: Page, account: Account, axe: Axe
) -> None:
    await send_chat(page, "call the bank on friday at 10am")
    await expect(page.locator(".chip.ok[data-tool=add_task]")).to_be_visible()
    await expect(page.locator("#send")).to_have_attribute("aria-label", "Send")

    await page.get_by_role("button", name="New chat").click()
    await expect(page.locator(".welcome")).to_be_visible()
    await expect(page.locator("#composer-input")).to_be_focused()

    await page.get_by_role("button", name="History").click()
    entry = page.locator("#history-list .history-item")
    await expect(entry).to_have_count(1)
    await expect(entry).to_contain_text("call the bank")
    await axe.check(page, "chat history open")
    await entry.click()
    await expect(page.locator("#history")).to_be_hidden()
    await expect(page.locator(".msg-user .bubble")).to_have_text(
        ["call the bank on friday at 10am"])
    chip = page.locator(".chip[data-tool=add_task]")
    await expect(chip).to_contain_text("Added")
    await expect(chip.locator("a.chip-link")).to_have_text("Call the bank")

    # Carrying on in the reopened conversation keeps it one conversation.
    await send_chat(page, "search for bank")
    await expect(page.locator(".chip.ok[data-tool=find_tasks]")).to_contain_text("Found 1 task")
    conversations = (await account.api.get("/api/conversations")).json()
    assert conversations["total"] == 1


async def test_the_undo_button_reverts_the_last_change_and_the_board_follows(
    page: Page, account: Account, shots: Path
) -> None:
    task = await account.add(title="Water the plants", remind_at="2031-05-01T09:00")
    await expect(row(page, "Water the plants")).to_be_visible()
    undo = page.locator(".undo-last")

    await send_chat(page, "delete water the plants")
    await expect(page.locator("#send")).to_have_attribute("aria-label", "Send")
    await expect(undo).to_have_count(0)  # nothing changed yet: the delete waits for yes
    await page.locator(".confirm-card:not(.resolved)").get_by_role(
        "button", name="Yes", exact=True).click()
    await expect(row(page, "Water the plants")).to_have_count(0)
    await expect(undo).to_have_count(1)
    await page.screenshot(path=shots / "chat-undo-button.png")

    await page.get_by_role("button", name="Undo the last change").click()
    await expect(page.locator(".msg-user .bubble").last).to_have_text("undo")
    await expect(page.locator(".chip.ok[data-tool=undo_last_change]")).to_contain_text("Undid")
    await expect(page.locator(".msg-assistant .bubble").last).to_have_text(
        "Restored “Water the plants”.")
    await expect(row(page, "Water the plants")).to_be_visible()
    await expect(undo).to_have_count(0)  # an undo is not offered for undoing
    restored = await account.task(task["id"])
    assert restored is not None
    assert restored["remind_at"] == task["remind_at"]
    # The restored row takes later changes like any other.
    await send_chat(page, "make water the plants high priority")
    await expect(row(page, "Water the plants").locator(".prio-badge")).to_have_text("High")

    await send_chat(page, "buy milk tomorrow at 5pm")
    await expect(row(page, "Buy milk")).to_be_visible()
    await expect(undo).to_have_count(1)
    await send_chat(page, "make buy milk high priority")
    await expect(row(page, "Buy milk").locator(".prio-badge")).to_have_text("High")
    await expect(undo).to_have_count(1)  # only the last change has the button
    await undo.click()
    await expect(page.locator("#send")).to_have_attribute("aria-label", "Send")
    await expect(row(page, "Buy milk").locator(".prio-badge")).to_have_count(0)
    # Typed, undo reaches the change before: the added task goes from the board.
    await send_chat(page, "undo")
    await expect(row(page, "Buy milk")).to_have_count(0)
    assert [t["title"] for t in await account.tasks()] == ["Water the plants"]
