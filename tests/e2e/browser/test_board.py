"""The board: inline complete, edit and delete reconciled with the server;
search, filters and sort; times in the user's zone as people say them."""

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.async_api import Locator, Page, Route, expect

from tests.e2e.browser.conftest import USER_ZONE, Account, Axe, row
from tests.e2e.processes import poll

ZONE = ZoneInfo(USER_ZONE)


def local(days: int, hour: int, minute: int = 0) -> str:
    """A wall-clock time `days` from today in the user's zone, RFC 3339."""
    now = datetime.now(ZONE)
    day = (now + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).isoformat()


async def test_complete_edit_and_delete_inline(page: Page, account: Account) -> None:
    task = await account.add(title="Book dentist", due_at=local(1, 17), tags=["health"])
    item = row(page, "Book dentist")
    await expect(item).to_be_visible()  # arrived live, no reload
    await expect(item.locator(".due")).to_have_text("tomorrow 17:00")
    await expect(item.locator(".tag")).to_have_text("#health")

    await item.get_by_role("checkbox").click()
    await expect(page.locator("#done-list .task-title")).to_have_text(["Book dentist"])
    await account.settles(task["id"], "completed")
    await page.locator("#done-list").get_by_role("checkbox").click()
    await expect(page.locator("#task-list .task-title")).to_have_text(["Book dentist"])
    await account.settles(task["id"], "active")

    edit = row(page, "Book dentist").get_by_role("button", name="Edit “Book dentist” details")
    await edit.click()
    dialog = page.locator("dialog[open]")
    await expect(dialog.get_by_label("Title")).to_be_focused()
    await dialog.get_by_label("Title").fill("Book the dentist")
    await dialog.get_by_text("High", exact=True).click()
    await dialog.get_by_label("Tags").fill("health, calls")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(dialog).to_be_hidden()
    edited = row(page, "Book the dentist")
    await expect(edited.locator(".prio-badge")).to_have_text("High")
    await expect(edited.locator(".tag")).to_have_text(["#health", "#calls"])
    saved = await account.task(task["id"])
    assert saved is not None
    assert (saved["title"], saved["priority"], saved["tags"]) == (
        "Book the dentist",
        "high",
        ["health", "calls"],
    )
    assert saved["due_at"] == task["due_at"]  # untouched fields stay as they were

    delete = edited.get_by_role("button", name="Delete “Book the dentist”")
    await delete.click()
    await expect(edited).to_be_visible()  # one click only arms it
    await edited.get_by_role("button", name="Press again to delete").click()
    await expect(edited).to_have_count(0)

    # The row goes at once; the server's answer to the DELETE comes a moment later.
    async def deleted() -> bool:
        return await account.task(task["id"]) is None

    await poll(deleted, timeout=10)


async def test_a_stale_edit_is_refused_and_the_form_shows_the_latest(
    page: Page, account: Account
) -> None:
    task = await account.add(title="Renew insurance")
    await row(page, "Renew insurance").locator(".task-title").click()
    dialog = page.locator("dialog[open]")
    await expect(dialog.get_by_label("Title")).to_have_value("Renew insurance")
    # Someone else changes it meanwhile (another device).
    changed = await account.api.patch(f"/api/tasks/{task['id']}", json={"description": "policy 42"})
    assert changed.status_code == 200
    await dialog.get_by_label("Title").fill("Renew car insurance")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(dialog.locator(".form-error")).to_contain_text("changed somewhere else")
    await expect(dialog.get_by_label("Notes")).to_have_value("policy 42")
    await dialog.get_by_label("Title").fill("Renew car insurance")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(dialog).to_be_hidden()
    saved = await account.task(task["id"])
    assert saved is not None
    assert (saved["title"], saved["description"]) == ("Renew car insurance", "policy 42")


async def test_search_filters_and_sort(
    page: Page, account: Account, shots: Path, axe: Axe
) -> None:
    await account.add(
        title="Pay electricity bill", priority="high", tags=["bills", "home"], due_at=local(-2, 10)
    )
    # Due two hours from now: always ahead, whatever time the test runs.
    now = datetime.now(ZONE)
    soon = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    await account.add(
        title="Water the plants",
        tags=["home"],
        due_at=soon.isoformat(),
        recurrence_rule="FREQ=DAILY;INTERVAL=3",
    )
    await account.add(
        title="Draft the quarterly report",
        priority="medium",
        tags=["work"],
        due_at=local(3, 9),
        description="numbers from finance",
    )
    await account.add(
        title="Call the plumber", priority="low", due_at=local(1, 8, 30), remind_at=local(1, 8, 15)
    )
    await account.add(title="Read a novel")
    done = await account.add(title="Return library books", tags=["errands"])
    assert (await account.api.post(f"/api/tasks/{done['id']}/complete")).status_code == 200

    titles = page.locator("#task-list .task-title")
    await expect(titles).to_have_count(5)
    await expect(row(page, "Pay electricity bill").locator(".due")).to_have_text("overdue 2 days")
    await expect(row(page, "Pay electricity bill")).to_have_class("task prio-high overdue")
    day = "today" if soon.date() == now.date() else "tomorrow"
    await expect(row(page, "Water the plants").locator(".due")).to_have_text(
        f"{day} {soon:%H:%M}"
    )
    await expect(row(page, "Water the plants").locator(".repeat")).to_contain_text("every 3 days")
    await expect(row(page, "Call the plumber").locator(".remind")).to_contain_text("tomorrow 08:15")
    await page.screenshot(path=shots / "busy-board.png")
    await axe.check(page, "busy board")

    search = page.get_by_label("Search tasks")
    await search.fill("report")
    await expect(titles).to_have_text(["Draft the quarterly report"])
    await search.fill("finance")  # the description counts too
    await expect(titles).to_have_text(["Draft the quarterly report"])
    await search.fill("")
    await expect(titles).to_have_count(5)

    await page.get_by_role("button", name="Done", exact=True).click()
    await expect(page.locator("#task-list .task-title")).to_have_text(["Return library books"])
    await page.get_by_role("button", name="Open", exact=True).click()
    await expect(titles).to_have_count(5)

    await page.get_by_role("button", name="Filters").click()
    filters = page.locator("#filters-panel")
    await filters.get_by_label("High").check()
    await filters.get_by_label("Medium").check()
    await expect(titles).to_have_text(["Draft the quarterly report", "Pay electricity bill"])
    await filters.get_by_label("High").uncheck()
    await filters.get_by_label("Medium").uncheck()
    await filters.get_by_label("Tags (all of)").fill("home bills")
    await expect(titles).to_have_text(["Pay electricity bill"])
    await filters.get_by_label("Tags (all of)").fill("")
    await filters.get_by_label("Repeats").select_option("true")
    await expect(titles).to_have_text(["Water the plants"])
    await filters.get_by_label("Repeats").select_option("")
    today = datetime.now(ZONE).date()
    await filters.get_by_label("Due from").fill(today.isoformat())
    await filters.get_by_label("Due until").fill((today + timedelta(days=1)).isoformat())
    await expect(titles).to_have_text(["Call the plumber", "Water the plants"])
    await expect(page.locator("#filters-toggle .badge")).to_have_text("2")
    await filters.get_by_role("button", name="Clear filters").click()
    await expect(titles).to_have_count(5)

    await page.get_by_label("Sort by").select_option("due_at:asc")
    await expect(titles).to_have_text(
        [
            "Pay electricity bill",
            "Water the plants",
            "Call the plumber",
            "Draft the quarterly report",
            "Read a novel",  # no due date: last
        ]
    )
    await page.get_by_label("Sort by").select_option("title:asc")
    await expect(titles).to_have_text(
        [
            "Call the plumber",
            "Draft the quarterly report",
            "Pay electricity bill",
            "Read a novel",
            "Water the plants",
        ]
    )
    # A task added now lands where the sort puts it, live.
    await account.add(title="Buy stamps")
    await expect(titles.first).to_have_text("Buy stamps")


async def _add_and_lose_the_answer(page: Page, title: str) -> tuple[Locator, list[int]]:
    """Adds a task in the form, whose POST /api/tasks reaches the server, which
    acts on it, and whose answer is lost on the way back (the browser sees a
    network error). Returns the open form and the statuses of the creates that
    got through after it."""
    answered: list[int] = []
    lost: list[int] = []

    async def handle(route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        response = await route.fetch()
        if not lost:
            lost.append(response.status)
            await route.abort("connectionreset")
            return
        answered.append(response.status)
        await route.fulfill(response=response)

    await page.route("**/api/tasks", handle)
    await page.get_by_role("button", name="New task").click()
    dialog = page.locator("dialog[open]")
    await dialog.get_by_label("Title").fill(title)
    await dialog.get_by_role("button", name="Add task").click()
    await expect(dialog.get_by_text("The server cannot be reached")).to_be_visible()
    assert lost == [201]  # the server did add it
    return dialog, answered


async def test_add_pressed_again_after_a_lost_answer_adds_the_task_once(
    page: Page, account: Account
) -> None:
    dialog, answered = await _add_and_lose_the_answer(page, "Water the plants")
    await dialog.get_by_role("button", name="Add task").click()  # the user tries again
    await expect(dialog).to_be_hidden()
    assert answered == [200]  # found, not added again
    await expect(row(page, "Water the plants")).to_have_count(1)
    assert [t["title"] for t in await account.tasks()] == ["Water the plants"]


async def test_a_changed_form_after_a_lost_answer_shows_the_task_that_was_added(
    page: Page, account: Account
) -> None:
    dialog, answered = await _add_and_lose_the_answer(page, "Call the bank")
    await dialog.get_by_label("Title").fill("Call the bank about the card")
    await dialog.get_by_role("button", name="Add task").click()
    await expect(dialog.get_by_text("This task was already added")).to_be_visible()
    assert answered == [409]
    await expect(dialog.get_by_label("Title")).to_have_value("Call the bank")
    await dialog.get_by_label("Title").fill("Call the bank about the card")
    await dialog.get_by_role("button", name="Save changes").click()
    await expect(dialog).to_be_hidden()
    await expect(row(page, "Call the bank about the card")).to_have_count(1)
    assert [t["title"] for t in await account.tasks()] == ["Call the bank about the card"]
