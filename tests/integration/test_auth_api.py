"""Accounts, tokens and the one-time login link."""

import base64
from datetime import timedelta

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from services.bootstrap import Container
from services.shared.auth import accounts
from tests.conftest import MakeUser, User


def _int(b64: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)), "big")


async def test_register_login_me(client: httpx.AsyncClient) -> None:
    registered = await client.post(
        "/api/auth/register",
        json={
            "email": "Ada@Example.com",
            "password": "correct horse",
            "display_name": "Ada",
            "timezone": "Europe/London",
        },
    )
    assert registered.status_code == 201
    assert registered.json()["email"] == "ada@example.com"
    login = await client.post(
        "/api/auth/login", json={"email": "ada@example.com", "password": "correct horse"}
    )
    body = login.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["display_name"] == "Ada"
    assert me.json()["timezone"] == "Europe/London"


async def test_access_token_is_rs256_and_verifies_with_the_jwks(
    client: httpx.AsyncClient, alice: User
) -> None:
    header = jwt.get_unverified_header(alice.token)
    assert header["alg"] == "RS256"
    jwks = (await client.get("/.well-known/jwks.json")).json()
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    public = RSAPublicNumbers(_int(key["e"]), _int(key["n"])).public_key()
    claims = jwt.decode(alice.token, public, algorithms=["RS256"], audience="todo-app")
    assert claims["sub"] == alice.id


async def test_duplicate_email_and_wrong_password(client: httpx.AsyncClient, alice: User) -> None:
    again = await client.post(
        "/api/auth/register", json={"email": alice.email.upper(), "password": "another password"}
    )
    assert again.status_code == 409
    wrong = await client.post(
        "/api/auth/login", json={"email": alice.email, "password": "nope nope"}
    )
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    unknown = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "whatever1"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]


async def test_every_api_route_needs_a_token(client: httpx.AsyncClient) -> None:
    for method, url in [
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", "/api/auth/me"),
        ("GET", "/api/tasks/00000000-0000-0000-0000-000000000000"),
        ("POST", "/api/recurrence/preview"),
        ("POST", "/api/auth/tokens"),
    ]:
        response = await client.request(method, url, json={})
        assert response.status_code == 401, (method, url, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    forged = await client.get("/api/tasks", headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401


async def test_expired_and_foreign_tokens_are_refused(
    client: httpx.AsyncClient, container: Container, alice: User
) -> None:
    import uuid

    expired = container.keys.issue(uuid.UUID(alice.id), timedelta(seconds=-60))
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {"sub": alice.id, "aud": "todo-app", "iss": "todo-app"},
        other_key,
        algorithm="RS256",
        headers={"kid": container.keys.kid},
    )
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_personal_access_tokens_work_until_revoked(alice: User) -> None:
    created = await alice.post("/api/auth/tokens", json={"name": "claude-desktop"})
    assert created.status_code == 201
    token = created.json()
    assert token["token"].startswith("todo_pat_")
    pat = {"Authorization": f"Bearer {token['token']}"}
    assert (await alice.client.get("/api/auth/me", headers=pat)).json()["id"] == alice.id
    assert (await alice.delete(f"/api/auth/tokens/{token['id']}")).status_code == 204
    assert (await alice.client.get("/api/auth/me", headers=pat)).status_code == 401
    assert (await alice.delete(f"/api/auth/tokens/{token['id']}")).status_code == 404


async def test_another_user_cannot_revoke_my_token(alice: User, make_user: MakeUser) -> None:
    bob = await make_user()
    token = (await alice.post("/api/auth/tokens", json={"name": "cli"})).json()
    assert (await bob.delete(f"/api/auth/tokens/{token['id']}")).status_code == 404
    pat = {"Authorization": f"Bearer {token['token']}"}
    assert (await alice.client.get("/api/auth/me", headers=pat)).status_code == 200


async def test_login_link_is_single_use(client: httpx.AsyncClient, container: Container) -> None:
    async with container.uow() as uow:
        user = await accounts.ensure_local_user(uow, email="me@todo.localhost", timezone="UTC")
    async with container.uow() as uow:
        again = await accounts.ensure_local_user(uow, email="me@todo.localhost", timezone="UTC")
    assert again.user_id == user.user_id
    async with container.uow() as uow:
        secret = await accounts.create_login_link(
            uow, user_id=user.user_id, ttl=timedelta(minutes=5)
        )
    first = await client.post("/api/auth/link", json={"token": secret})
    assert first.status_code == 200
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert me.json()["email"] == "me@todo.localhost"
    second = await client.post("/api/auth/link", json={"token": secret})
    assert second.status_code == 401
    page = await client.get("/login")
    assert page.status_code == 200
    assert "/api/auth/link" in page.text


async def test_expired_login_link_is_refused(
    client: httpx.AsyncClient, container: Container
) -> None:
    async with container.uow() as uow:
        user = await accounts.ensure_local_user(uow, email="me@todo.localhost", timezone="UTC")
    async with container.uow() as uow:
        secret = await accounts.create_login_link(
            uow, user_id=user.user_id, ttl=timedelta(seconds=-1)
        )
    assert (await client.post("/api/auth/link", json={"token": secret})).status_code == 401


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
    assert (await client.get("/openapi.json")).json()["info"]["title"]


async def test_change_the_display_name_zone_and_time_format(alice: User) -> None:
    changed = await alice.patch(
        "/api/auth/me",
        json={"display_name": "  Alice L. ", "timezone": "Asia/Tokyo", "time_format": "12h"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() | {"id": alice.id} == {
        "id": alice.id,
        "email": alice.email,
        "display_name": "Alice L.",
        "timezone": "Asia/Tokyo",
        "time_format": "12h",
    }
    # Only what is sent changes; null removes the display name.
    again = await alice.patch("/api/auth/me", json={"display_name": None})
    assert again.status_code == 200, again.text
    me = (await alice.get("/api/auth/me")).json()
    assert (me["display_name"], me["timezone"], me["time_format"]) == (None, "Asia/Tokyo", "12h")
    assert (await alice.patch("/api/auth/me", json={})).json() == me
    # Times sent later without an offset are read in the new zone.
    task = await alice.post("/api/tasks", json={"title": "Tea", "due_at": "2031-05-01T09:00"})
    assert task.json()["timezone"] == "Asia/Tokyo"
    assert task.json()["due_at"] == "2031-05-01T09:00:00+09:00"


async def test_bad_account_changes_are_refused_and_change_nothing(alice: User) -> None:
    before = (await alice.get("/api/auth/me")).json()
    cases: list[tuple[object, str, str]] = [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Mars/Olympus_Mons"),
        ({"timezone": "Europe/Berlin "}, "timezone", "Europe/Berlin "),
        ({"timezone": ""}, "timezone", "IANA"),
        ({"timezone": None}, "timezone", "string"),
        ({"timezone": 5}, "timezone", "string"),
        ({"display_name": "   "}, "display_name", "null to remove"),
        ({"display_name": ""}, "display_name", "null to remove"),
        ({"display_name": 42}, "display_name", "string"),
        ({"display_name": "x" * 101}, "display_name", "100"),
        ({"time_format": "13h"}, "time_format", "12h"),
        ({"time_format": None}, "time_format", "auto"),
        ({"email": "someone@example.com"}, "email", "not permitted"),
        ({"timezone": "Asia/Tokyo", "is_local": True}, "is_local", "not permitted"),
    ]
    for body, field, words in cases:
        response = await alice.patch("/api/auth/me", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problems = response.json()["errors"]
        assert [p["field"] for p in problems] == [field], (body, problems)
        assert words in problems[0]["message"], (body, problems)
    for raw in ["[]", '"Asia/Tokyo"', "{"]:
        response = await alice.patch(
            "/api/auth/me", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code in (400, 422), (raw, response.text)
    assert (await alice.get("/api/auth/me")).json() == before


async def test_the_local_user_has_no_made_up_name(container: Container) -> None:
    async with container.uow() as uow:
        user = await accounts.ensure_local_user(uow, email="me@todo.localhost", timezone="UTC")
    assert user.display_name is None
    async with container.uow() as uow:
        named = await accounts.update_profile(uow, user_id=user.user_id, display_name="Sam")
    assert named.display_name == "Sam"
