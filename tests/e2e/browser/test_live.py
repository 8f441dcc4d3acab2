"""Two windows of one user stay in step over /ws without reloading, and both
reconnect and catch up after the server restarts."""

import json
import re
import uuid

from playwright.async_api import WebSocketRoute, expect

from services.bootstrap import Container
from services.shared.auth.principal import Principal
from services.tasks import service
from services.tasks.schemas import TaskCreate
from tests.e2e.browser.conftest import (
    Account,
    NewContext,
    OpenPage,
    PageErrors,
    WebApp,
    login_link,
    row,
)


async def test_a_change_in_one_window_appears_in_the_other(
    open_page: OpenPage, account: Account
) -> None:
    first, second = await open_page(), await open_page()

    await first.get_by_role("button", name="New task").click()
    dialog = first.locator("dialog[open]")
    await dialog.get_by_label("Title").fill("Plan the picnic")
    await dialog.get_by_label("Tags").fill("family")
    await dialog.get_by_role("button", name="Add task").click()
    await expect(row(first, "Plan the picnic")).to_be_visible()
    await expect(row(second, "Plan the picnic")).to_be_visible()
    await expect(row(second, "Plan the picnic").locator(".tag")).to_have_text("#family")

    await row(second, "Plan the picnic").get_by_role("checkbox").click()
    await expect(first.locator("#done-list .task-title")).to_have_text(["Plan the picnic"])

    await first.locator("#done-list").get_by_role("checkbox").click()
    await expect(second.locator("#task-list .task-title")).to_have_text(["Plan the picnic"])

    item = row(first, "Plan the picnic")
    await item.get_by_role("button", name="Delete “Plan the picnic”").click()
    await item.get_by_role("button", name="Press again to delete").click()
    await expect(row(second, "Plan the picnic")).to_have_count(0)
    assert await account.tasks() == []


async def _add_directly(container: Container, account: Account, title: str) -> None:
    """A change written while no server runs (its event waits in the outbox)."""
    async with container.reading() as uow:
        user = await _principal(container, uow, account)
    async with container.uow() as uow:
        await service.create_task(uow, user=user, data=TaskCreate(title=title))


async def _principal(container: Container, uow: object, account: Account) -> Principal:
    from services.shared.auth import accounts

    return await accounts.authenticate(uow, container.keys, account.token)  # type: ignore[arg-type]


async def test_after_a_server_restart_both_windows_reconnect_and_catch_up(
    web: WebApp, open_page: OpenPage, account: Account
) -> None:
    first, second = await open_page(), await open_page()
    sockets: list[str] = []
    first.on("websocket", lambda socket: sockets.append(socket.url))
    await account.add(title="Before the restart")
    for page in (first, second):
        await expect(row(page, "Before the restart")).to_be_visible()

    await web.stop()
    for page in (first, second):
        await expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
        await expect(page.locator("#conn")).to_contain_text("Reconnecting")

    offline = web.new_container()
    try:
        await _add_directly(offline, account, f"Added while down {uuid.uuid4().hex[:4]}")
    finally:
        await offline.aclose()
    await web.start()

    for page in (first, second):
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=20_000)
        caught_up = page.locator("#task-list .task-title", has_text="Added while down")
        await expect(caught_up).to_be_visible()
    # The reconnect resumed after the last change the page had received.
    assert sockets, "the page never reconnected"
    assert re.search(r"[?&]since=[0-9a-f-]{36}(&|$)", sockets[-1]), sockets[-1]
    # And the feed works again after the reconnect.
    await account.add(title="After the restart")
    for page in (first, second):
        await expect(row(page, "After the restart")).to_be_visible()


async def test_a_redelivered_or_stale_event_changes_nothing(
    web: WebApp, account: Account, new_context: NewContext, page_errors: PageErrors
) -> None:
    """Delivery is at-least-once: the same event twice is applied once, and an
    older version never overwrites a newer one."""
    sockets: list[WebSocketRoute] = []

    def through(socket: WebSocketRoute) -> None:
        socket.connect_to_server()  # real traffic flows; the test can add to it
        sockets.append(socket)

    context = await new_context()
    await context.route_web_socket(re.compile(r"/ws\?token="), through)
    page = page_errors.watch(await context.new_page())
    await page.goto(await login_link(web, account))
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")

    task = await account.add(title="Sort the mail")
    await expect(row(page, "Sort the mail")).to_be_visible()
    renamed = await account.api.patch(f"/api/tasks/{task['id']}", json={"title": "Sort the post"})
    assert renamed.json()["version"] > task["version"]
    await expect(row(page, "Sort the post")).to_be_visible()

    stale = {"type": "task.updated", "event_id": str(uuid.uuid4()), "data": {"task": task}}
    extra = {**task, "id": str(uuid.uuid4()), "title": "Delivered twice"}
    twice = {"type": "task.created", "event_id": str(uuid.uuid4()), "data": {"task": extra}}
    # The page handles the feed's messages in order: once the sentinel shows, the three
    # before it have been applied, so what is counted below is their final effect.
    marker = {**task, "id": str(uuid.uuid4()), "title": "Sentinel"}
    sentinel = {"type": "task.created", "event_id": str(uuid.uuid4()), "data": {"task": marker}}
    for message in (stale, twice, twice, sentinel):
        sockets[-1].send(json.dumps(message))
    await expect(row(page, "Sentinel")).to_be_visible()
    await expect(row(page, "Delivered twice")).to_have_count(1)
    await expect(page.locator("#task-list .task-title")).to_have_count(3)
    await expect(row(page, "Sort the post")).to_have_count(1)
    await expect(row(page, "Sort the mail")).to_have_count(0)
