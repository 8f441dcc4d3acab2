"""A remote MCP client is connected through the page: the client sends the
signed-out browser to `/authorize`, the page signs the user in and shows the
consent naming the client and what it may do; Allow sends the browser back to
the client with a code. The account menu lists the client and revokes it."""

import base64
import hashlib
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from playwright.async_api import Route, expect

from tests.e2e.browser.conftest import PASSWORD, Account, NewContext, PageErrors, WebApp

CALLBACK = "http://127.0.0.1:65001/callback"


async def mcp_status(web: WebApp, token: str) -> int:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            web.url + "/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "probe", "version": "0"},
                },
            },
            headers={
                "Accept": "application/json, text/event-stream",
                "Authorization": f"Bearer {token}",
            },
        )
        return response.status_code


async def test_a_client_is_allowed_on_the_consent_screen_and_revoked_from_the_menu(
    web: WebApp, account: Account, new_context: NewContext, page_errors: PageErrors, shots: Path
) -> None:
    async with httpx.AsyncClient(base_url=web.url) as http:
        registered = await http.post(
            "/register",
            json={
                "client_name": "Browser Assistant",
                "client_uri": "https://assistant.example",
                "redirect_uris": [CALLBACK],
                "token_endpoint_auth_method": "none",
            },
        )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )

    page = page_errors.watch(await (await new_context()).new_page())
    arrived: list[str] = []

    async def client_callback(route: Route) -> None:
        arrived.append(route.request.url)
        await route.fulfill(status=200, body="connected", content_type="text/plain")

    await page.route(CALLBACK + "*", client_callback)
    authorize = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st4te",
        "resource": web.url + "/mcp",
    }
    await page.goto(f"{web.url}/authorize?{urlencode(authorize)}")
    # Signed out: the page's own sign-in first.
    await expect(page.locator("#signin")).to_be_visible()
    await page.locator("#signin-email").fill(account.email)
    await page.locator("#signin-password").fill(PASSWORD)
    await page.locator("#signin-password").press("Enter")

    consent = page.get_by_role("dialog", name="Connect an application")
    await expect(consent).to_contain_text("Connect Browser Assistant?")
    await expect(consent).to_contain_text("See, add, change, complete and delete your tasks")
    await expect(consent).to_contain_text("assistant.example")
    await expect(consent).to_contain_text("127.0.0.1:65001")
    assert "oauth_request" not in page.url
    await page.screenshot(path=shots / "connect-consent.png")
    await consent.get_by_role("button", name="Allow").click()
    await page.wait_for_url(CALLBACK + "**")
    back = parse_qs(urlsplit(arrived[-1]).query)
    assert back["state"] == ["st4te"]

    async with httpx.AsyncClient(base_url=web.url) as http:
        tokens = await http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": back["code"][0],
                "redirect_uri": CALLBACK,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        )
    assert tokens.status_code == 200, tokens.text
    access = tokens.json()["access_token"]
    assert await mcp_status(web, access) == 200

    # The account menu lists the client; Revoke ends its access.
    await page.goto(web.url + "/")
    await expect(page.locator("#app")).to_be_visible()
    await page.locator(".account summary").click()
    await page.get_by_role("button", name="Connected apps").click()
    apps = page.get_by_role("dialog", name="Connected apps")
    await expect(apps).to_contain_text("Browser Assistant")
    await page.screenshot(path=shots / "connected-apps.png")
    await apps.get_by_role("button", name="Revoke Browser Assistant").click()
    await expect(apps).to_contain_text("No applications are connected.")
    assert await mcp_status(web, access) == 401


async def test_an_expired_or_answered_request_says_so(
    web: WebApp, account: Account, new_context: NewContext, page_errors: PageErrors
) -> None:
    page = page_errors.watch(await (await new_context()).new_page())
    await page.add_init_script(f"localStorage.setItem('todo.token', {account.token!r})")
    await page.goto(web.url + "/?oauth_request=made-up")
    dialog = page.get_by_role("dialog", name="Connect an application")
    await expect(dialog).to_contain_text("unknown, already answered or expired")
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_have_count(0)
    await expect(page.locator("#app")).to_be_visible()
