"""A conversation in the page (the offline assistant): an edit that keeps the
time, a question the assistant asks and the answer that fills it in."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Page, expect

from tests.e2e.browser.conftest import USER_ZONE, Account, row, send_chat
from tests.e2e.processes import poll

ZONE = ZoneInfo(USER_ZONE)


def coming_friday() -> datetime:
    """The Friday after today in the user's zone ("friday" is never today)."""
    today = datetime.now(ZONE).date()
    day = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    return datetime(day.year, day.month, day.day, tzinfo=ZONE)


async def test_an_edit_keeps_the_time_and_an_answer_fills_the_question(
    page: Page, account: Account
) -> None:
    async def stream_ended() -> None:
        await expect(page.locator("#send")).to_have_attribute("aria-label", "Send")

    await send_chat(page, "buy milk tomorrow at 5pm")
    await expect(row(page, "Buy milk")).to_be_visible()
    await stream_ended()

    await send_chat(page, "move the milk task to friday")
    await expect(page.locator(".chip.ok[data-tool=update_task]")).to_contain_text("Buy milk")
    await stream_ended()
    [task] = await account.tasks()
    due = datetime.fromisoformat(task["due_at"]).astimezone(ZONE)
    assert (due.date(), due.hour, due.minute) == (coming_friday().date(), 17, 0)

    await send_chat(page, "set a reminder for the milk")
    question = page.locator(".msg-assistant .bubble").last
    await expect(question).to_contain_text("When should I remind you about “milk”?")
    await stream_ended()

    await send_chat(page, "the day before at 10am")
    await expect(page.locator(".chip.ok[data-tool=set_reminder]")).to_contain_text("Buy milk")
    await stream_ended()
    thursday = coming_friday() - timedelta(days=1)

    async def reminded() -> bool:
        [found] = await account.tasks()
        remind_at = found["remind_at"]
        if remind_at is None:
            return False
        moment = datetime.fromisoformat(remind_at).astimezone(ZONE)
        return (moment.date(), moment.hour) == (thursday.date(), 10)

    await poll(reminded, timeout=10)
    assert [t["title"] for t in await account.tasks()] == ["Buy milk"]  # no task from the answer
