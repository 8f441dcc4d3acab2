"""Remote MCP clients over OAuth 2.1: discovery, registration, consent, tokens.

The server runs under uvicorn on a loopback port with `PUBLIC_URL` set to
that address, as a deployment publishes it. The whole flow is driven by the
official SDK's own OAuth client (`OAuthClientProvider` on the streamable HTTP
client); the consent step goes through the real HTTP endpoints the web page
calls, as the signed-in user. The failures are driven with plain HTTP.
"""

import asyncio
import base64
import hashlib
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
import sqlalchemy as sa
import uvicorn
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl

from services.bootstrap import Container, bootstrap
from services.shared.tables import oauth_authorizations, oauth_clients, oauth_grants
from tests.conftest import MakeUser, User
from tests.integration.mcp.conftest import app_with_mcp, structured

REDIRECT = "http://127.0.0.1:65000/callback"
OTHER_REDIRECT = "http://127.0.0.1:65000/elsewhere"


@dataclass
class Server:
    url: str
    container: Container

    @property
    def mcp_url(self) -> str:
        return self.url + "/mcp"


@asynccontextmanager
async def running(
    database_url: str, key_file: Path, tmp_path: Path, **overrides: Any
) -> AsyncIterator[Server]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    container = bootstrap(
        database_url=database_url,
        jwt_private_key_file=key_file,
        data_dir=tmp_path,
        local_user=False,
        default_timezone="UTC",
        public_url=url,
        **overrides,
    )
    config = uvicorn.Config(
        app_with_mcp(container), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve())
    while not served.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield Server(url, container)
    finally:
        served.should_exit = True
        await task
        await container.aclose()


@pytest.fixture
async def server(database_url: str, key_file: Path, tmp_path: Path) -> AsyncIterator[Server]:
    async with running(database_url, key_file, tmp_path) as started:
        yield started


async def rows(server: Server, table: sa.Table) -> list[dict[str, Any]]:
    async with server.container.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(sa.select(table))]


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


async def consent(server: Server, user: User, consent_url: str, *, allow: bool = True) -> str:
    """What the web page does for the signed-in user: show the request, answer it."""
    request_id = parse_qs(urlsplit(consent_url).query)["oauth_request"][0]
    headers = {"Authorization": f"Bearer {user.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        shown = await http.get(f"/api/oauth/requests/{request_id}")
        assert shown.status_code == 200, shown.text
        answer = await http.post(
            f"/api/oauth/requests/{request_id}/{'approve' if allow else 'deny'}"
        )
        assert answer.status_code == 200, answer.text
        redirect_to: str = answer.json()["redirect_to"]
        return redirect_to


@dataclass
class Registered:
    client_id: str
    secret: str | None
    raw: dict[str, Any] = field(default_factory=dict)


async def register(http: httpx.AsyncClient, **metadata: Any) -> Registered:
    body = {
        "client_name": "Remote Assistant",
        "redirect_uris": [REDIRECT, OTHER_REDIRECT],
        "token_endpoint_auth_method": "client_secret_post",
        **metadata,
    }
    response = await http.post("/register", json=body)
    assert response.status_code == 201, response.text
    info = response.json()
    return Registered(info["client_id"], info.get("client_secret"), info)


async def authorize(
    server: Server,
    http: httpx.AsyncClient,
    user: User,
    client: Registered,
    challenge: str,
    redirect_uri: str = REDIRECT,
) -> str:
    """Authorize as `user` through the consent endpoints; the one-time code."""
    response = await http.get(
        "/authorize",
        params={
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "xyz",
            "resource": server.mcp_url,
        },
    )
    assert response.status_code == 302, response.text
    back = parse_qs(urlsplit(await consent(server, user, response.headers["location"])).query)
    assert back["state"] == ["xyz"]
    assert back["iss"] == [server.url]
    return back["code"][0]


async def exchange(
    http: httpx.AsyncClient,
    client: Registered,
    code: str,
    verifier: str,
    redirect_uri: str = REDIRECT,
) -> httpx.Response:
    return await http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client.client_id,
            "client_secret": client.secret or "",
            "code_verifier": verifier,
        },
    )


async def refresh(http: httpx.AsyncClient, client: Registered, token: str) -> httpx.Response:
    return await http.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": client.client_id,
            "client_secret": client.secret or "",
        },
    )


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"},
    },
}


async def mcp_status(server: Server, token: str) -> int:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            server.mcp_url,
            json=INITIALIZE,
            headers={
                "Accept": "application/json, text/event-stream",
                "Authorization": f"Bearer {token}",
            },
        )
        return response.status_code


@pytest.fixture
async def user(make_user: MakeUser) -> User:
    return await make_user()


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


async def test_the_sdk_client_connects_through_discovery_registration_and_consent(
    server: Server, user: User
) -> None:
    storage = MemoryStorage()
    answers: asyncio.Queue[AuthorizationCodeResult] = asyncio.Queue()
    shown: list[dict[str, Any]] = []

    async def redirect_handler(authorization_url: str) -> None:
        # The browser: /authorize sends it to the page's consent screen.
        async with httpx.AsyncClient() as browser:
            response = await browser.get(authorization_url)
        assert response.status_code == 302, response.text
        consent_url = response.headers["location"]
        assert consent_url.startswith(server.url + "/?oauth_request=")
        request_id = parse_qs(urlsplit(consent_url).query)["oauth_request"][0]
        async with httpx.AsyncClient(base_url=server.url, headers=user.headers) as page:
            shown.append((await page.get(f"/api/oauth/requests/{request_id}")).json())
        back = parse_qs(urlsplit(await consent(server, user, consent_url)).query)
        await answers.put(
            AuthorizationCodeResult(
                code=back["code"][0], state=back["state"][0], iss=back["iss"][0]
            )
        )

    auth = OAuthClientProvider(
        server_url=server.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="Remote Assistant",
            redirect_uris=[AnyUrl(REDIRECT)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=answers.get,
    )
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        streamable_http_client(server.mcp_url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        added = structured(await session.call_tool("add_task", {"title": "water the plants"}))

    # The consent named the client and what it may do.
    assert shown[0]["client_name"] == "Remote Assistant"
    assert [s["name"] for s in shown[0]["scopes"]] == ["tasks"]
    assert shown[0]["resource"] == server.mcp_url
    # The task is the signed-in user's.
    listed = await user.get("/api/tasks")
    assert [t["title"] for t in listed.json()["items"]] == ["water the plants"], added
    # The tokens: short-lived, for this resource only, with a refresh token.
    assert storage.tokens is not None
    assert storage.tokens.refresh_token
    assert storage.tokens.expires_in == server.container.settings.oauth_access_token_ttl_seconds
    async with httpx.AsyncClient(base_url=server.url) as api:
        refused = await api.get(
            "/api/tasks", headers={"Authorization": f"Bearer {storage.tokens.access_token}"}
        )
    assert refused.status_code == 401  # the API is another audience
    # The user sees the client among their connections.
    connected = (await user.get("/api/oauth/clients")).json()
    assert [c["client_name"] for c in connected] == ["Remote Assistant"]


async def test_discovery_documents_and_the_401(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        unauthorized = await http.post(
            "/mcp", json=INITIALIZE, headers={"Accept": "application/json, text/event-stream"}
        )
        assert unauthorized.status_code == 401
        challenge = unauthorized.headers["WWW-Authenticate"]
        expected = f'resource_metadata="{server.url}/.well-known/oauth-protected-resource/mcp"'
        assert challenge.startswith("Bearer ")
        assert expected in challenge
        for path in (
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource",
        ):
            document = (await http.get(path)).json()
            assert document["resource"] == server.mcp_url
            assert document["authorization_servers"] == [server.url]
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == server.url
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["registration_endpoint"] == server.url + "/register"
    assert "none" in metadata["token_endpoint_auth_methods_supported"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "invalid_client_metadata"),
        (b'{"redirect_uris": "http://127.0.0.1/cb"}', "invalid_client_metadata"),
        (b'{"redirect_uris": []}', "invalid_client_metadata"),
        (
            b'{"redirect_uris": ["http://127.0.0.1/cb"], "scope": "admin"}',
            "invalid_client_metadata",
        ),
        (b'{"redirect_uris": ["http://evil.example/cb"]}', "invalid_redirect_uri"),
        (b'{"redirect_uris": ["https://a.example/cb#frag"]}', "invalid_redirect_uri"),
        (
            b'{"redirect_uris": ["https://a.example/cb"], "client_name": "' + b"x" * 201 + b'"}',
            "invalid_client_metadata",
        ),
    ],
)
async def test_a_malformed_registration_is_refused_and_nothing_is_kept(
    server: Server, body: bytes, error: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/register", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert await rows(server, oauth_clients) == []


async def test_unknown_clients_and_unregistered_redirect_uris_are_refused(
    server: Server, user: User
) -> None:
    verifier, challenge = pkce()
    async with httpx.AsyncClient(base_url=server.url) as http:
        client = await register(http)
        params = {
            "response_type": "code",
            "client_id": "no-such-client",
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "state": "s",
        }
        unknown = await http.get("/authorize", params=params)
        assert unknown.status_code == 400
        assert unknown.json()["error"] == "invalid_request"
        # Never redirected to an address nobody registered.
        params |= {"client_id": client.client_id, "redirect_uri": "http://127.0.0.1:65000/evil"}
        unregistered = await http.get("/authorize", params=params)
        assert unregistered.status_code == 400
        assert unregistered.json()["error"] == "invalid_request"
        assert await rows(server, oauth_authorizations) == []
        # PKCE is S256 only: the client is told at its own redirect URI.
        plain = await http.get(
            "/authorize",
            params=params | {"redirect_uri": REDIRECT, "code_challenge_method": "plain"},
        )
        assert plain.status_code == 302
        assert parse_qs(urlsplit(plain.headers["location"]).query)["error"] == ["invalid_request"]
        token = await exchange(http, Registered("no-such-client", "x"), "code", verifier)
        assert token.status_code == 401
        assert token.json()["error"] == "invalid_client"
        wrong_secret = await exchange(http, Registered(client.client_id, "wrong"), "c", verifier)
        assert wrong_secret.status_code == 401
        assert wrong_secret.json()["error"] == "invalid_client"
    assert await rows(server, oauth_authorizations) == []


async def test_code_exchange_failures(server: Server, user: User) -> None:
    verifier, challenge = pkce()
    async with httpx.AsyncClient(base_url=server.url) as http:
        client = await register(http)
        code = await authorize(server, http, user, client, challenge)
        # Another redirect URI than the one authorized (RFC 6749 §4.1.3, §5.2).
        moved = await exchange(http, client, code, verifier, redirect_uri=OTHER_REDIRECT)
        assert moved.status_code == 400
        assert moved.json()["error"] == "invalid_grant"
        # The same with a wrong client secret: the client is refused first.
        stranger = Registered(client.client_id, "wrong")
        moved = await exchange(http, stranger, code, verifier, redirect_uri=OTHER_REDIRECT)
        assert moved.status_code == 401
        # The wrong PKCE verifier.
        mismatch = await exchange(http, client, code, pkce()[0])
        assert mismatch.status_code == 400
        assert mismatch.json()["error"] == "invalid_grant"
        assert await rows(server, oauth_grants) == []
        # A token for another resource (RFC 8707).
        other = await http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": client.client_id,
                "client_secret": client.secret or "",
                "code_verifier": verifier,
                "resource": "https://other.example/mcp",
            },
        )
        assert other.status_code == 400
        assert other.json()["error"] == "invalid_target"
        assert await rows(server, oauth_grants) == []
        # The right exchange works once.
        first = await exchange(http, client, code, verifier)
        assert first.status_code == 200, first.text
        tokens = first.json()
        assert await mcp_status(server, tokens["access_token"]) == 200
        # Replayed: refused, and what the code issued is revoked (RFC 6749 §4.1.2).
        replay = await exchange(http, client, code, verifier)
        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
    assert await mcp_status(server, tokens["access_token"]) == 401
    async with httpx.AsyncClient(base_url=server.url) as http:
        after = await refresh(http, client, tokens["refresh_token"])
    assert after.json()["error"] == "invalid_grant"


async def test_authorize_for_another_resource_is_refused(server: Server, user: User) -> None:
    _, challenge = pkce()
    async with httpx.AsyncClient(base_url=server.url) as http:
        client = await register(http)
        response = await http.get(
            "/authorize",
            params={
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "state": "s",
                "resource": "https://other.example/mcp",
            },
        )
    assert response.status_code == 302
    back = parse_qs(urlsplit(response.headers["location"]).query)
    assert back["error"] == ["invalid_target"]
    assert back["state"] == ["s"]
    assert await rows(server, oauth_authorizations) == []


async def test_refresh_rotates_and_reuse_revokes_the_family(server: Server, user: User) -> None:
    verifier, challenge = pkce()
    async with httpx.AsyncClient(base_url=server.url) as http:
        client = await register(http, token_endpoint_auth_method="none")
        assert client.secret is None
        first = (
            await exchange(
                http, client, await authorize(server, http, user, client, challenge), verifier
            )
        ).json()
        second = await refresh(http, client, first["refresh_token"])
        assert second.status_code == 200, second.text
        rotated = second.json()
        assert rotated["refresh_token"] != first["refresh_token"]
        assert await mcp_status(server, rotated["access_token"]) == 200
        # The old refresh token again: refused, and the whole family is revoked.
        reused = await refresh(http, client, first["refresh_token"])
        assert reused.status_code == 400
        assert reused.json()["error"] == "invalid_grant"
        newest = await refresh(http, client, rotated["refresh_token"])
        assert newest.json()["error"] == "invalid_grant"
    assert await mcp_status(server, rotated["access_token"]) == 401
    assert await mcp_status(server, first["access_token"]) == 401
    assert (await user.get("/api/oauth/clients")).json() == []


async def test_revoked_expired_and_foreign_tokens_are_refused(
    server: Server, user: User, make_user: MakeUser
) -> None:
    verifier, challenge = pkce()
    async with httpx.AsyncClient(base_url=server.url) as http:
        client = await register(http)
        tokens = (
            await exchange(
                http, client, await authorize(server, http, user, client, challenge), verifier
            )
        ).json()
    assert await mcp_status(server, tokens["access_token"]) == 200
    grant = (await user.get("/api/oauth/clients")).json()[0]
    keys = server.container.keys
    user_id = uuid.UUID(user.id)
    claims = {"client_id": client.client_id, "grant": grant["id"], "scope": "tasks"}
    expired = keys.issue(user_id, timedelta(seconds=-60), audience=server.mcp_url, extra=claims)
    assert await mcp_status(server, expired) == 401
    foreign = keys.issue(
        user_id, timedelta(minutes=5), audience="https://other.example/mcp", extra=claims
    )
    assert await mcp_status(server, foreign) == 401
    # Another user cannot revoke it; its owner can, and every token stops.
    stranger = await make_user()
    assert (await stranger.delete(f"/api/oauth/clients/{grant['id']}")).status_code == 404
    # Revoked through the process that serves /mcp (the user's `client` is
    # another app instance, which only AUTH_CACHE_SECONDS would bound).
    async with httpx.AsyncClient(base_url=server.url, headers=user.headers) as http:
        assert (await http.delete(f"/api/oauth/clients/{grant['id']}")).status_code == 204
    assert await mcp_status(server, tokens["access_token"]) == 401
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await refresh(http, client, tokens["refresh_token"])).json()[
            "error"
        ] == "invalid_grant"
    assert (await user.get("/api/oauth/clients")).json() == []
    # Sign-in JWTs and personal access tokens keep working on /mcp.
    assert await mcp_status(server, user.token) == 200
    pat = (await user.post("/api/auth/tokens", json={"name": "desktop"})).json()["token"]
    assert await mcp_status(server, pat) == 200


async def test_the_consent_needs_the_user_and_can_be_refused(server: Server, user: User) -> None:
    _, challenge = pkce()
    async with httpx.AsyncClient(base_url=server.url) as http:
        client = await register(http)
        response = await http.get(
            "/authorize",
            params={
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": REDIRECT,
                "code_challenge": challenge,
                "state": "s",
            },
        )
        request_id = parse_qs(urlsplit(response.headers["location"]).query)["oauth_request"][0]
        anonymous = await http.post(f"/api/oauth/requests/{request_id}/approve")
        assert anonymous.status_code == 401
        unknown = await http.get("/api/oauth/requests/nope", headers=user.headers)
        assert unknown.status_code == 404
    denied = await consent(server, user, response.headers["location"], allow=False)
    back = parse_qs(urlsplit(denied).query)
    assert back["error"] == ["access_denied"]
    assert back["state"] == ["s"]
    # Answered once: the request is gone.
    assert (await user.get(f"/api/oauth/requests/{request_id}")).status_code == 404
    assert await rows(server, oauth_authorizations) == []


async def test_registrations_share_the_sign_in_budget_per_address(
    database_url: str, key_file: Path, tmp_path: Path
) -> None:
    async with (
        running(database_url, key_file, tmp_path, rate_limit_auth_per_minute=2) as limited,
        httpx.AsyncClient(base_url=limited.url) as http,
    ):
        await register(http)
        await register(http)
        third = await http.post("/register", json={"redirect_uris": [REDIRECT]})
        assert third.status_code == 429
        assert int(third.headers["Retry-After"]) >= 1
        assert third.json()["error"] == "too_many_requests"
        assert len(await rows(limited, oauth_clients)) == 2


async def test_requests_left_unanswered_expire_and_are_cleared(server: Server, user: User) -> None:
    _, challenge = pkce()
    params = {
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "state": "s",
    }
    async with httpx.AsyncClient(base_url=server.url) as http:
        client = await register(http)
        first = await http.get("/authorize", params=params | {"client_id": client.client_id})
        stale = parse_qs(urlsplit(first.headers["location"]).query)["oauth_request"][0]
        async with server.container.engine.begin() as conn:
            await conn.execute(
                oauth_authorizations.update()
                .where(oauth_authorizations.c.id == stale)
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        assert (await user.get(f"/api/oauth/requests/{stale}")).status_code == 404
        await http.get("/authorize", params=params | {"client_id": client.client_id})
    assert stale not in [row["id"] for row in await rows(server, oauth_authorizations)]
    assert len(await rows(server, oauth_authorizations)) == 1


async def test_a_client_revoking_its_token_is_refused_on_the_next_request(
    server: Server, user: User
) -> None:
    """RFC 7009: the access token, already known to the process, stops at once."""
    verifier, challenge = pkce()
    async with httpx.AsyncClient(base_url=server.url) as http:
        client = await register(http)
        tokens = (
            await exchange(
                http, client, await authorize(server, http, user, client, challenge), verifier
            )
        ).json()
        assert await mcp_status(server, tokens["access_token"]) == 200
        revoked = await http.post(
            "/revoke",
            data={
                "token": tokens["access_token"],
                "client_id": client.client_id,
                "client_secret": client.secret or "",
            },
        )
        assert revoked.status_code == 200, revoked.text
    assert await mcp_status(server, tokens["access_token"]) == 401
