"""Web Push in real Chromium: the service worker registers at the page's root,
the switch tries the browser's real `pushManager.subscribe()`, a subscription made
in the page reaches the server through the page's own code, and a push message
delivered to the registered worker shows a notification.

Chromium's `subscribe()` gets its endpoint from Google's push service (FCM), which
cannot be reached from here; headless Chromium refuses it before that anyway
("AbortError: Registration failed - permission denied", with the notification
permission granted and `permissionState()` "granted"). So the test checks that the
page says so and stores nothing, and delivers push messages to the worker through
the DevTools protocol (`ServiceWorker.deliverPushMessage`), as FCM would.

The notifications are read once the worker's push event has completed, as the
browser logs it (DevTools' background-services log): headless Chromium prunes from
`getNotifications()` a notification it has stored but not yet reported as shown, so
reading while one is being shown can lose it for good."""

import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from playwright.async_api import Page, expect

from services.bootstrap import Container
from tests.e2e.browser.conftest import Account, NewContext, WebApp, login_link
from tests.e2e.processes import poll
from tests.integration.test_web_push import Browser
from testsupport.dapr_standin import LoopbackServer


class PushWebApp(WebApp):
    """The app, allowed to deliver to the push service stand-in on loopback (http)."""

    def new_container(self) -> Container:
        container = super().new_container()
        container.settings = container.settings.model_copy(update={"push_allow_insecure": True})
        return container


@pytest.fixture
async def web(tmp_path: Path, sqlite_template: Path, key_file: Path) -> AsyncIterator[WebApp]:
    path = tmp_path / "todo.db"
    shutil.copy(sqlite_template, path)
    app = PushWebApp(f"sqlite+aiosqlite:///{path}", key_file, tmp_path)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


# A subscription as a browser makes it: an ECDH key pair on P-256 and a 16-byte
# secret, made in the page by WebCrypto, for an https:// push endpoint.
MAKE_SUBSCRIPTION = """
async () => {
  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const pair = await crypto.subtle.generateKey(
    { name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  const auth = crypto.getRandomValues(new Uint8Array(16));
  const push = await import("/static/js/push.js");
  const json = {
    endpoint: "https://push.example.net/send/" + crypto.randomUUID(),
    expirationTime: null,
    keys: { p256dh: b64url(raw), auth: b64url(auth) },
  };
  const stored = await push.saveSubscription(json);
  return { json, stored };
}
"""


async def _signed_in(web: WebApp, account: Account, new_context: NewContext) -> Page:
    context = await new_context()
    await context.grant_permissions(["notifications"], origin=web.url)
    page = await context.new_page()
    await page.goto(await login_link(web, account))
    await page.wait_for_url(f"{web.url}/")
    await expect(page.locator("#app")).to_be_visible()
    return page


class PushLog:
    """The browser's own record of the push events its workers handled and the
    notifications they showed (DevTools' background-services log)."""

    def __init__(self) -> None:
        self.completed: list[str] = []  # each push event's outcome, in order
        self.displayed: list[str] = []  # each shown notification's tag, in order

    @classmethod
    async def recording(cls, cdp: Any) -> "PushLog":
        log = cls()

        def received(params: dict[str, Any]) -> None:
            event = params["backgroundServiceEvent"]
            metadata = {m["key"]: m["value"] for m in event["eventMetadata"]}
            if event["eventName"] == "Push event completed":
                log.completed.append(metadata.get("Status", ""))
            elif event["eventName"] == "Notification displayed":
                log.displayed.append(event["instanceId"])

        cdp.on("BackgroundService.backgroundServiceEventReceived", received)
        for service in ("pushMessaging", "notifications"):
            await cdp.send("BackgroundService.startObserving", {"service": service})
            await cdp.send(
                "BackgroundService.setRecording", {"shouldRecord": True, "service": service}
            )
        return log

    async def handled(self, count: int) -> None:
        """Until `count` push events have completed; each must have succeeded."""

        async def done() -> bool:
            return len(self.completed) >= count

        await poll(done, timeout=30, what=f"{count} push event(s) completing")
        assert self.completed == ["Success"] * count, self.completed


async def _shown(page: Page) -> list[dict[str, Any]]:
    """The notifications the app's worker shows, as the page sees them."""
    found: list[dict[str, Any]] = await page.evaluate(
        """navigator.serviceWorker.ready.then((r) => r.getNotifications())
             .then((ns) => ns.map((n) => ({ title: n.title, body: n.body, tag: n.tag,
                                            data: n.data, at: n.timestamp })))"""
    )
    return found


async def _registration_id(page: Page, cdp: Any) -> str:
    found: dict[str, str] = {}

    def updated(params: dict[str, Any]) -> None:
        for reg in params["registrations"]:
            if reg["scopeURL"] == page.url and not reg.get("isDeleted"):
                found["id"] = reg["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    await cdp.send("ServiceWorker.enable")

    async def known() -> bool:
        return "id" in found

    await poll(known, timeout=30)
    return found["id"]


async def test_the_worker_registers_and_a_push_shows_a_notification(
    web: WebApp, account: Account, new_context: NewContext
) -> None:
    page = await _signed_in(web, account, new_context)
    # The switch is there once the worker is registered, with the whole app in scope.
    await expect(page.locator("#push-settings")).to_be_attached()
    scope = await page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)")
    assert scope == f"{web.url}/"

    cdp = await page.context.new_cdp_session(page)
    pushes = await PushLog.recording(cdp)
    registration = await _registration_id(page, cdp)
    message = {
        "event_id": "e-123",
        "type": "reminder",
        "task_id": None,
        "title": "Water the plants",
        "body": "Reminder: Water the plants",
        "due_at": None,
    }

    async def deliver(data: dict[str, Any]) -> None:
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": web.url, "registrationId": registration, "data": json.dumps(data)},
        )

    await deliver(message)
    await pushes.handled(1)
    [first] = await _shown(page)
    assert {k: first[k] for k in ("title", "body", "tag")} == {
        "title": "Water the plants",
        "body": "Reminder: Water the plants",
        "tag": "e-123",
    }
    # The same message again (delivery is at least once) replaces it, by its tag: still
    # one notification, shown anew.
    await deliver(message)
    await pushes.handled(2)
    [again] = await _shown(page)
    assert again["tag"] == "e-123"
    assert again["at"] != first["at"]
    await deliver({**message, "event_id": "e-456", "title": "Pay the rent"})
    await pushes.handled(3)
    assert sorted(n["tag"] for n in await _shown(page)) == ["e-123", "e-456"]
    assert pushes.displayed == ["e-123", "e-123", "e-456"]


async def test_a_subscription_made_in_the_page_reaches_the_server(
    web: WebApp, account: Account, new_context: NewContext
) -> None:
    page = await _signed_in(web, account, new_context)
    made = await page.evaluate(MAKE_SUBSCRIPTION)
    stored = (await account.api.get("/api/notifications/push/subscriptions")).json()
    assert [s["endpoint"] for s in stored] == [made["json"]["endpoint"]]
    assert stored[0]["id"] == made["stored"]["id"]

    await page.evaluate(
        "(endpoint) => import('/static/js/push.js').then((p) => p.forgetSubscription(endpoint))",
        made["json"]["endpoint"],
    )
    assert (await account.api.get("/api/notifications/push/subscriptions")).json() == []


async def test_the_switch_says_when_the_browser_cannot_subscribe(
    web: WebApp, account: Account, new_context: NewContext
) -> None:
    page = await _signed_in(web, account, new_context)
    await page.locator("#inbox-button").click()
    switch = page.get_by_role("switch", name="Remind me even when this page is closed")
    await expect(switch).to_be_enabled()
    await switch.click()
    # Chromium's subscribe() fails here (see above): the page says so, stays off and
    # stores nothing.
    status = page.locator("#push-status")
    await expect(status).to_contain_text(
        "could not subscribe at its push service (Registration failed", timeout=30_000
    )
    await expect(switch).not_to_be_checked()
    assert (await account.api.get("/api/notifications/push/subscriptions")).json() == []


async def test_a_reminder_goes_from_the_server_through_the_push_service_to_the_worker(
    web: WebApp, account: Account, new_context: NewContext
) -> None:
    """The whole path but the browser's own push transport: the server encrypts the
    reminder for a subscription and POSTs it to a push service on loopback; that
    service decrypts it with the subscription's keys (the browser's part) and hands
    the message to the registered worker through the DevTools protocol."""
    page = await _signed_in(web, account, new_context)
    cdp = await page.context.new_cdp_session(page)
    pushes = await PushLog.recording(cdp)
    registration = await _registration_id(page, cdp)
    browser = Browser()
    received: list[dict[str, Any]] = []
    service = FastAPI()

    @service.post("/push/{name}")
    async def push(name: str, request: Request) -> Response:
        message = json.loads(browser.decrypt(await request.body()))
        received.append(message)
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": web.url, "registrationId": registration, "data": json.dumps(message)},
        )
        return Response(status_code=201)

    server = LoopbackServer(service)
    await server.start()
    try:
        # The page's own code stores the subscription.
        await page.evaluate(
            "(json) => import('/static/js/push.js').then((p) => p.saveSubscription(json))",
            browser.subscription(f"{server.url}/push/chromium"),
        )
        soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
        task = await account.add(title="Feed the cat", remind_at=soon)

        async def sent() -> bool:
            return bool(received)

        await poll(sent, timeout=30, what="the reminder reaching the push service")
        await pushes.handled(1)
    finally:
        await server.stop()
    [message] = received
    assert message["task_id"] == task["id"]
    assert [{k: n[k] for k in ("title", "tag", "data")} for n in await _shown(page)] == [
        {"title": "Feed the cat", "tag": message["event_id"], "data": {"task_id": task["id"]}}
    ]
