"""Security properties end to end: token forgery, key rotation, login
throttling, CORS, security headers, object-level authorisation (BOLA) and
mass assignment."""

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.app import build_app
from services.bootstrap import Container, bootstrap
from services.composition import start_process
from services.errors import AuthError
from services.notification.inbox import add_notification
from services.shared.auth.keys import KeyRing, key_id
from tests.conftest import MakeUser, User

PASSWORD = "correct horse battery"


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(user_id: str, **extra: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "sub": user_id,
        "aud": "todo-app",
        "iss": "todo-app",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(hours=1),
        **extra,
    }


def _numeric_claims(user_id: str) -> dict[str, object]:
    """The claims with times as numbers, for tokens made by hand."""
    claims = _claims(user_id)
    return {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}


async def _refused(client: httpx.AsyncClient, token: str) -> httpx.Response:
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    return response


async def _accepted_when_signed(
    client: httpx.AsyncClient, container: Container, claims: dict[str, object]
) -> None:
    """The positive control: the same claims, signed with the real key, are
    accepted, so a refusal of the forged token is due to the forgery alone."""
    signed = jwt.encode(
        claims, container.keys.private_key, algorithm="RS256", headers={"kid": container.keys.kid}
    )
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {signed}"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == claims["sub"]


# --- tokens -------------------------------------------------------------------


async def test_expired_token_is_refused(
    client: httpx.AsyncClient, container: Container, alice: User
) -> None:
    expired = container.keys.issue(uuid.UUID(alice.id), timedelta(seconds=-60))
    assert "expired" in (await _refused(client, expired)).json()["detail"]


async def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, container: Container, alice: User
) -> None:
    # Algorithm confusion: the public key (which anyone can fetch) as an HMAC secret.
    public_pem = container.keys.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": container.keys.kid})
    claims = _numeric_claims(alice.id)
    await _accepted_when_signed(client, container, claims)
    body = _b64(claims)
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    await _refused(client, forged)


async def test_alg_none_is_refused(
    client: httpx.AsyncClient, container: Container, alice: User
) -> None:
    claims = _claims(alice.id)
    await _accepted_when_signed(client, container, claims)
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": container.keys.kid})
    await _refused(client, unsigned)
    # Hand-made too, with an empty signature and no padding tricks.
    numeric = _numeric_claims(alice.id)
    await _accepted_when_signed(client, container, numeric)
    header = _b64({"alg": "none", "kid": container.keys.kid})
    await _refused(client, f"{header}.{_b64(numeric)}.")


async def test_wrong_or_missing_kid_is_refused(
    client: httpx.AsyncClient, container: Container, alice: User
) -> None:
    await _accepted_when_signed(client, container, _claims(alice.id))
    # Signed by the real key, but naming a key the ring does not have.
    wrong_kid = jwt.encode(
        _claims(alice.id), container.keys.private_key, algorithm="RS256", headers={"kid": "nope"}
    )
    assert "unknown key" in (await _refused(client, wrong_kid)).json()["detail"]
    no_kid = jwt.encode(_claims(alice.id), container.keys.private_key, algorithm="RS256")
    await _refused(client, no_kid)
    # Signed by a stranger's key, claiming the real kid.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    impostor = jwt.encode(
        _claims(alice.id), stranger, algorithm="RS256", headers={"kid": container.keys.kid}
    )
    await _refused(client, impostor)


async def test_revoked_personal_access_token_is_refused(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = (await alice.post("/api/auth/tokens", json={"name": "script"})).json()
    pat = created["token"]
    ok = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {pat}"})
    assert ok.status_code == 200
    assert (await alice.delete(f"/api/auth/tokens/{created['id']}")).status_code == 204
    await _refused(client, pat)
    await _refused(client, pat[:-1] + ("A" if pat[-1] != "A" else "B"))


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


async def test_key_rotation_old_tokens_verify_until_they_expire(
    database_url: str, key_file: Path, tmp_path: Path
) -> None:
    old_ring = KeyRing.load(key_file, "todo-app")
    user_id = uuid.uuid4()
    before = old_ring.issue(user_id, timedelta(hours=1))
    before_expired = old_ring.issue(user_id, timedelta(seconds=-60))
    new_file = _write_key(
        tmp_path / "new.pem", rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    # The operator keeps only the public half of the old key: that is enough.
    old_public = tmp_path / "old.pub.pem"
    old_public.write_bytes(
        old_ring.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    container = bootstrap(
        database_url=database_url,
        jwt_private_key_file=new_file,
        jwt_previous_key_files=f"{old_public}, {key_file}",
        data_dir=tmp_path,
        local_user=False,
    )
    try:
        ring = container.keys
        assert ring.kid != old_ring.kid
        after = ring.issue(user_id, timedelta(hours=1))
        assert jwt.get_unverified_header(after)["kid"] == ring.kid  # the newest key signs
        assert ring.verify(before) == user_id  # the old one still verifies
        assert ring.verify(after) == user_id
        with pytest.raises(AuthError, match="expired"):
            ring.verify(before_expired)
        transport = httpx.ASGITransport(app=build_app(container))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            jwks = (await client.get("/.well-known/jwks.json")).json()
        kids = [k["kid"] for k in jwks["keys"]]
        assert kids[0] == ring.kid
        assert sorted(kids) == sorted({ring.kid, old_ring.kid})
        assert all(k["alg"] == "RS256" and k["use"] == "sig" for k in jwks["keys"])
    finally:
        await container.aclose()
    # Once the old key is dropped from the ring, its tokens are refused.
    dropped = KeyRing.load(new_file, "todo-app")
    assert key_id(old_ring.private_key.public_key()) not in dropped.kids
    with pytest.raises(AuthError, match="unknown key"):
        dropped.verify(before)


# --- login throttling -----------------------------------------------------------


def _app_client(container: Container, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_app(container), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _address() -> str:
    """A client address of its own (documentation range): the limits' counters live in
    the shared Redis for a minute, so an address used by an earlier test or run must
    not come back."""
    suffix = uuid.uuid4().hex
    return f"2001:db8:{suffix[:4]}:{suffix[4:8]}::{suffix[8:12]}"


async def _register(client: httpx.AsyncClient) -> str:
    email = f"guess-{uuid.uuid4().hex[:10]}@example.com"
    response = await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return email


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_failed_logins_lock_the_account_for_a_growing_window(container: Container) -> None:
    container.throttle.policy = type(container.throttle.policy)(
        account_failures=3, address_failures=1000, lock_seconds=30, max_lock_seconds=600
    )
    async with _app_client(container, _address()) as client:
        email = await _register(client)
        assert [(await _login(client, email, "wrong-guess")).status_code for _ in range(3)] == [
            401
        ] * 3
        locked = await _login(client, email, PASSWORD)  # even the right password waits
        assert locked.status_code == 429
        assert locked.headers["content-type"] == "application/problem+json"
        first_wait = int(locked.headers["retry-after"])
        assert 1 <= first_wait <= 30
        assert "too many failed logins" in locked.json()["detail"]
    # Another address guessing the same account is locked out too.
    async with _app_client(container, _address()) as elsewhere:
        assert (await _login(elsewhere, email, PASSWORD)).status_code == 429
    # The window grows with every failure after the threshold.
    await container.throttle.store.record_failure(
        container.throttle._keys(email, "x")[0], 3, container.throttle.policy
    )
    async with _app_client(container, _address()) as client:
        longer = await _login(client, email, PASSWORD)
        assert longer.status_code == 429
        assert int(longer.headers["retry-after"]) > 30
    # Other accounts are untouched.
    async with _app_client(container, _address()) as client:
        other = await _register(client)
        assert (await _login(client, other, PASSWORD)).status_code == 200


async def test_a_success_resets_the_count(container: Container) -> None:
    container.throttle.policy = type(container.throttle.policy)(
        account_failures=3, address_failures=1000
    )
    async with _app_client(container, _address()) as client:
        email = await _register(client)
        for _ in range(5):
            assert (await _login(client, email, "wrong-guess")).status_code == 401
            assert (await _login(client, email, "wrong-guess")).status_code == 401
            assert (await _login(client, email, PASSWORD)).status_code == 200


async def test_one_address_guessing_many_accounts_is_locked(container: Container) -> None:
    container.throttle.policy = type(container.throttle.policy)(
        account_failures=1000, address_failures=4
    )
    address = _address()
    async with _app_client(container, address) as client:
        emails = [await _register(client) for _ in range(5)]
        statuses = [(await _login(client, e, "wrong-guess")).status_code for e in emails[:4]]
        assert statuses == [401] * 4
        assert (await _login(client, emails[4], PASSWORD)).status_code == 429
    async with _app_client(container, _address()) as other_place:
        assert (await _login(other_place, emails[4], PASSWORD)).status_code == 200


async def test_unknown_email_gets_the_same_answer_and_the_same_work(
    client: httpx.AsyncClient, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.shared.auth import passwords

    verified: list[str] = []
    real = passwords.hasher

    class Counting:
        def verify(self, hash_: str, password: str) -> bool:
            verified.append(hash_)
            return real.verify(hash_, password)

    monkeypatch.setattr(passwords, "hasher", Counting())
    wrong = await _login(client, alice.email, "wrong-guess")
    unknown = await _login(client, "nobody-here@example.com", "wrong-guess")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    # One full argon2id verification each, with the same parameters.
    assert len(verified) == 2
    assert all(h.startswith("$argon2id$v=19$m=65536,t=3,p=4$") for h in verified)


# --- replicas share Redis ------------------------------------------------------


@pytest.fixture
async def two_replicas(
    database_url: str, key_file: Path, tmp_path: Path
) -> AsyncIterator[tuple[Container, Container]]:
    import os

    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set: `make test` starts Redis")
    replicas = [
        bootstrap(
            database_url=database_url,
            jwt_private_key_file=key_file,
            data_dir=tmp_path,
            local_user=False,
            default_timezone="UTC",
            redis_url=redis_url,
            rate_limit_auth_per_minute=6,
            login_lockout_account_failures=3,
            login_lockout_address_failures=1000,
        )
        for _ in range(2)
    ]
    try:
        yield replicas[0], replicas[1]
    finally:
        for replica in replicas:
            await replica.aclose()


async def test_rate_limit_is_shared_by_two_app_instances_through_redis(
    two_replicas: tuple[Container, Container],
) -> None:
    address = _address()
    first, second = _app_client(two_replicas[0], address), _app_client(two_replicas[1], address)
    async with first, second:
        email = await _register(first)
        statuses = []
        for n in range(8):
            response = await _login(first if n % 2 else second, email, PASSWORD)
            statuses.append(response.status_code)
        # 6 per minute from one address in all: 5 logins after the registration.
        assert statuses[:5] == [200] * 5
        assert set(statuses[5:]) == {429}


async def test_login_lockout_is_shared_by_two_app_instances_through_redis(
    two_replicas: tuple[Container, Container],
) -> None:
    for replica in two_replicas:
        replica.settings = replica.settings.model_copy(update={"rate_limit_auth_per_minute": 1000})
    first, second = (
        _app_client(two_replicas[0], _address()),
        _app_client(two_replicas[1], _address()),
    )
    async with first, second:
        email = await _register(first)
        for client in (first, second, first):
            assert (await _login(client, email, "wrong-guess")).status_code == 401
        locked = await _login(second, email, PASSWORD)
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) >= 1


# --- CORS ------------------------------------------------------------------------


@pytest.fixture
def cors_client(container: Container) -> Callable[[str], httpx.AsyncClient]:
    def make(origins: str) -> httpx.AsyncClient:
        container.settings = container.settings.model_copy(update={"cors_origins": origins})
        transport = httpx.ASGITransport(app=build_app(container))
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    return make


async def test_cors_only_for_configured_origins(
    cors_client: Callable[[str], httpx.AsyncClient],
) -> None:
    allowed = "https://app.example.com"
    async with cors_client(f"{allowed}, https://other.example.org/") as client:
        simple = await client.get("/healthz", headers={"Origin": allowed})
        assert simple.headers["access-control-allow-origin"] == allowed
        assert "access-control-allow-credentials" not in simple.headers
        preflight = await client.options(
            "/api/tasks",
            headers={
                "Origin": allowed,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == allowed
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert preflight.headers["x-content-type-options"] == "nosniff"
        # Another origin gets no CORS headers, and its preflight is refused.
        evil = "https://evil.example.net"
        other = await client.get("/healthz", headers={"Origin": evil})
        assert other.status_code == 200
        # (Starlette lists the exposed headers on every answer; without an
        # allowed origin a browser hands the page nothing.)
        assert not [
            h
            for h in other.headers
            if h.startswith("access-control-") and h != "access-control-expose-headers"
        ]
        refused = await client.options(
            "/api/tasks", headers={"Origin": evil, "Access-Control-Request-Method": "POST"}
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers


async def test_no_cors_headers_at_all_by_default(
    cors_client: Callable[[str], httpx.AsyncClient],
) -> None:
    async with cors_client("") as client:
        for origin in ("https://app.example.com", "http://test"):
            response = await client.get("/healthz", headers={"Origin": origin})
            assert not [h for h in response.headers if h.startswith("access-control-")]
            preflight = await client.options(
                "/api/tasks", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
            )
            assert "access-control-allow-origin" not in preflight.headers


# --- security headers --------------------------------------------------------------


def _assert_hardened(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert response.headers["x-content-type-options"] == "nosniff", where
    assert response.headers["referrer-policy"] == "no-referrer", where
    assert response.headers["x-frame-options"] == "DENY", where
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp, where
    assert "default-src 'self'" in csp, where
    assert "object-src 'none'" in csp, where


async def test_security_headers_on_html_json_and_error_responses(
    client: httpx.AsyncClient, alice: User
) -> None:
    html = [await client.get("/"), await client.get("/login")]
    assert all(r.headers["content-type"].startswith("text/html") for r in html)
    json_ok = [await alice.get("/api/tasks"), await client.get("/openapi.json")]
    errors = [
        await client.get("/api/tasks"),  # 401
        await alice.get(f"/api/tasks/{uuid.uuid4()}"),  # 404
        await alice.post("/api/tasks", json={"title": ""}),  # 422
        await alice.post(
            "/api/tasks", content=b"{not json", headers={"Content-Type": "application/json"}
        ),  # 400
        await alice.post(
            "/api/tasks",
            content=b'{"title": "' + b"x" * (2 << 20) + b'"}',
            headers={"Content-Type": "application/json"},
        ),  # 413
        await client.get("/no/such/page"),  # 404 outside the API
    ]
    assert [r.status_code for r in errors] == [401, 404, 422, 400, 413, 404]
    for response in [*html, *json_ok, *errors]:
        _assert_hardened(response)
    for response in errors:
        assert response.headers["content-type"] == "application/problem+json"
    behind_tls = await alice.get("/api/tasks", headers={"X-Forwarded-Proto": "https"})
    assert "max-age=" in behind_tls.headers["strict-transport-security"]


# --- BOLA: another user's ids ----------------------------------------------------------


async def _eventually(check: Callable[[], object], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():  # type: ignore[misc]
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_another_users_ids_answer_404_and_change_nothing(
    make_user: MakeUser, container: Container
) -> None:
    alice, bob = await make_user(), await make_user()
    secret = await alice.add(
        title="Alice's secret", due_at="2030-05-01T10:00", recurrence_rule="FREQ=YEARLY"
    )
    task = str(secret["id"])
    token = (await alice.post("/api/auth/tokens", json={"name": "cli"})).json()
    async with container.uow() as uow:
        note = await add_notification(
            uow.connection,
            user_id=uuid.UUID(alice.id),
            kind="reminder",
            task_id=uuid.UUID(task),
            title="Alice's secret",
            body="due soon",
            source_event_id=uuid.uuid4().hex,
        )
        await uow.commit()
    chat = await alice.post("/api/chat", json={"message": "list my tasks"})
    assert chat.status_code == 200
    conversation = (await alice.get("/api/conversations")).json()["items"][0]["id"]

    routes: list[tuple[str, str, str, object]] = [
        ("GET", "/api/tasks/{}", task, None),
        ("PATCH", "/api/tasks/{}", task, {"title": "mine now"}),
        ("POST", "/api/tasks/{}/complete", task, None),
        ("POST", "/api/tasks/{}/reopen", task, None),
        ("POST", "/api/tasks/{}/skip", task, None),
        ("GET", "/api/tasks/{}/occurrences", task, None),
        ("DELETE", "/api/tasks/{}", task, None),
        ("POST", "/api/notifications/{}/read", str(note.id), None),
        ("GET", "/api/conversations/{}/messages", conversation, None),
        ("DELETE", "/api/auth/tokens/{}", token["id"], None),
    ]
    for method, path, theirs_id, body in routes:
        nobodys_id = str(uuid.uuid4())
        theirs = await bob.request(method, path.format(theirs_id), json=body)
        nobodys = await bob.request(method, path.format(nobodys_id), json=body)
        assert theirs.status_code == 404, (method, path, theirs.text)
        assert theirs.headers["content-type"] == "application/problem+json"
        # Someone else's id gets exactly the answer of an id nobody has.
        assert theirs.text.replace(theirs_id, "ID") == nobodys.text.replace(nobodys_id, "ID")

    assert (await alice.get(f"/api/tasks/{task}")).json() == secret
    notes = (await alice.get("/api/notifications")).json()["items"]
    assert [n["read_at"] for n in notes] == [None]
    pat = {"Authorization": f"Bearer {token['token']}"}
    assert (await alice.client.get("/api/auth/me", headers=pat)).status_code == 200
    assert len((await alice.get(f"/api/conversations/{conversation}/messages")).json()["items"])


async def test_audit_trail_and_export_never_show_another_users_events(
    make_user: MakeUser, container: Container
) -> None:
    await start_process(container)
    alice, bob = await make_user(), await make_user()
    secret = await alice.add(title="Alice's secret")
    task = str(secret["id"])

    async def alice_sees_it() -> bool:
        page = (await alice.get("/api/audit", params={"resource_id": task})).json()
        return bool(page["total"])

    await _eventually(alice_sees_it)
    theirs = (await bob.get("/api/audit", params={"resource_id": task})).json()
    assert theirs["total"] == 0
    assert theirs["items"] == []
    for fmt in ("json", "csv"):
        exported = await bob.get("/api/audit/export", params={"format": fmt})
        assert exported.status_code == 200
        assert task not in exported.text
        assert alice.id not in exported.text


# --- mass assignment ------------------------------------------------------------------


async def test_mass_assignment_of_owner_id_version_or_timestamps_has_no_effect(
    make_user: MakeUser,
) -> None:
    alice, bob = await make_user(), await make_user()
    forced_id = str(uuid.uuid4())
    # A new task's `id` is the client's to choose (test_create_retries.py); its
    # owner, version, timestamps, series and status are not.
    for field, value in [
        ("user_id", bob.id),
        ("version", 99),
        ("created_at", "2000-01-01T00:00:00Z"),
        ("updated_at", "2000-01-01T00:00:00Z"),
        ("series_id", forced_id),
        ("status", "completed"),
    ]:
        created = await alice.post("/api/tasks", json={"title": "t", field: value})
        if created.status_code == 201:
            task = created.json()
            assert task.get(field) != value, field
        else:
            assert created.status_code == 422, (field, created.text)
            assert field in created.json()["detail"]
    assert (await alice.get("/api/tasks")).json()["total"] == 0
    assert (await bob.get("/api/tasks")).json()["total"] == 0

    task = await alice.add(title="mine")
    for field, value in [
        ("user_id", bob.id),
        ("id", forced_id),
        ("version", 99),
        ("created_at", "2000-01-01T00:00:00Z"),
        ("series_id", forced_id),
    ]:
        changed = await alice.patch(f"/api/tasks/{task['id']}", json={field: value})
        assert changed.status_code == 422, (field, changed.text)
    assert (await alice.get(f"/api/tasks/{task['id']}")).json() == task
    assert (await bob.get("/api/tasks")).json()["total"] == 0
    assert (await alice.get(f"/api/tasks/{forced_id}")).status_code == 404


async def test_personal_access_token_stops_working_when_it_expires(
    client: httpx.AsyncClient, container: Container, alice: User
) -> None:
    from services.shared.tables import access_tokens

    lasting = (await alice.post("/api/auth/tokens", json={"name": "forever"})).json()
    assert lasting["expires_at"] is None
    created = await alice.post("/api/auth/tokens", json={"name": "ci", "expires_in_days": 30})
    assert created.status_code == 201
    token = created.json()
    expires = datetime.fromisoformat(token["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    pat = {"Authorization": f"Bearer {token['token']}"}
    assert (await client.get("/api/auth/me", headers=pat)).status_code == 200
    async with container.uow() as uow:
        await uow.connection.execute(
            access_tokens.update()
            .where(access_tokens.c.id == uuid.UUID(token["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await uow.commit()
    # The expiry was moved behind the app's back: what it kept of the token
    # (until the old expiry, or AUTH_CACHE_SECONDS) goes too.
    container.principals.clear()
    assert "expired" in (await _refused(client, token["token"])).json()["detail"]
    still = {"Authorization": f"Bearer {lasting['token']}"}
    assert (await client.get("/api/auth/me", headers=still)).status_code == 200
    for bad in (0, -1, 3651, "soon"):
        refused = await alice.post("/api/auth/tokens", json={"name": "x", "expires_in_days": bad})
        assert refused.status_code == 422, bad


async def test_webhook_urls_must_be_http_and_secrets_plain_text(alice: User) -> None:
    for url in ("file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL", "javascript:x", "x"):
        refused = await alice.request(
            "PUT", "/api/notifications/preferences", json={"webhook_url": url}
        )
        assert refused.status_code == 422, url
        assert refused.headers["content-type"] == "application/problem+json"
    nul = await alice.request(
        "PUT",
        "/api/notifications/preferences",
        json={"webhook_url": "https://hooks.example.com/x", "webhook_secret": "a" * 16 + "\x00"},
    )
    assert nul.status_code == 422
    ok = await alice.request(
        "PUT",
        "/api/notifications/preferences",
        json={"webhook_url": "https://hooks.example.com/x", "webhook_secret": "s" * 32},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["webhook_signed"] is True


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://172.16.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://100.64.0.1/hook",  # carrier-grade NAT
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/hook",
    ],
)
async def test_webhooks_into_private_networks_are_refused(
    alice: User, container: Container, url: str
) -> None:
    before = await alice.request("GET", "/api/notifications/preferences")
    refused = await alice.request(
        "PUT", "/api/notifications/preferences", json={"webhook_url": url}
    )
    assert refused.status_code == 422, refused.text
    assert "public address" in refused.text
    # Nothing was stored.
    after = await alice.request("GET", "/api/notifications/preferences")
    assert after.json() == before.json()


async def test_private_webhooks_are_allowed_when_configured(
    alice: User, container: Container
) -> None:
    container.settings = container.settings.model_copy(update={"webhook_allow_private": True})
    ok = await alice.request(
        "PUT", "/api/notifications/preferences", json={"webhook_url": "http://127.0.0.1:9/hook"}
    )
    assert ok.status_code == 200, ok.text


async def test_a_hash_with_old_parameters_is_upgraded_at_login(
    client: httpx.AsyncClient, container: Container, alice: User
) -> None:
    import sqlalchemy as sa
    from argon2 import PasswordHasher

    from services.shared.tables import users

    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    async with container.uow() as uow:
        await uow.connection.execute(
            users.update().where(users.c.id == uuid.UUID(alice.id)).values(password_hash=weak)
        )
        await uow.commit()
    assert (await _login(client, alice.email, PASSWORD)).status_code == 200
    async with container.reading() as uow:
        stored = (
            await uow.connection.execute(
                sa.select(users.c.password_hash).where(users.c.id == uuid.UUID(alice.id))
            )
        ).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert (await _login(client, alice.email, PASSWORD)).status_code == 200
