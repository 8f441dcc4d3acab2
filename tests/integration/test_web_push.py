"""Web Push: subscriptions through the API (and what it refuses), reminders
encrypted for each browser (RFC 8291) and signed for the push service (RFC 8292),
delivered to a real HTTP server on loopback that plays the push service; a gone
subscription is removed, a busy push service is retried and gets the message once."""

import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import FastAPI, Request, Response

from events import EventType, new_event
from services.app import build_app
from services.bootstrap import Container
from services.notification.delivery import ReminderDelivery
from services.notification.webpush import b64url, b64url_decode
from tests.conftest import LiveServer, serve_app
from tests.integration.events.test_event_flow import eventually, register
from testsupport.dapr_standin import LoopbackServer
from testsupport.event_data import reminder_triggered

# -- the browser's side: its keys, and RFC 8291 decryption written out here -----------------


@dataclass
class Browser:
    """What a browser holds for one push subscription."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def public(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def subscription(self, endpoint: str) -> dict[str, Any]:
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(self.public), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 section 3.4 with RFC 8188's aes128gcm header, one record."""
        salt, record_size, id_len = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        server_public = body[21 : 21 + id_len]
        ciphertext = body[21 + id_len :]
        assert id_len == 65
        assert len(ciphertext) <= record_size
        shared = self.key.exchange(
            ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), server_public)
        )
        key_info = b"WebPush: info\x00" + self.public + server_public
        ikm = HKDF(hashes.SHA256(), 32, salt=self.auth, info=key_info).derive(shared)
        cek = HKDF(hashes.SHA256(), 16, salt=salt, info=b"Content-Encoding: aes128gcm\x00").derive(
            ikm
        )
        nonce = HKDF(hashes.SHA256(), 12, salt=salt, info=b"Content-Encoding: nonce\x00").derive(
            ikm
        )
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        plain = padded.rstrip(b"\x00")
        assert plain.endswith(b"\x02"), "the last record ends with the delimiter 0x02"
        return plain[:-1]


@dataclass
class PushService:
    """A push service on loopback: answers each POST with the next scripted status
    (then 201) and keeps every request."""

    server: LoopbackServer
    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    accepted: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def endpoint(self, name: str) -> str:
        return f"{self.server.url}/push/{name}"


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    app = FastAPI()
    service: PushService

    @app.post("/push/{name}")
    async def receive(name: str, request: Request) -> Response:
        entry = (name, dict(request.headers), await request.body())
        service.requests.append(entry)
        status = service.statuses.pop(0) if service.statuses else 201
        if status == 201:
            service.accepted.append(entry)
        return Response(status_code=status)

    service = PushService(LoopbackServer(app))
    await service.server.start()
    try:
        yield service
    finally:
        await service.server.stop()


@pytest.fixture
def insecure_push(container: Container) -> Container:
    # The stand-in push service is http:// on loopback.
    container.settings = container.settings.model_copy(update={"push_allow_insecure": True})
    return container


@pytest.fixture
async def api(insecure_push: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(insecure_push))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def system(insecure_push: Container) -> AsyncIterator[LiveServer]:
    async for server in serve_app(insecure_push):
        yield server


async def subscribe(client: httpx.AsyncClient, me: dict[str, str], body: dict[str, Any]) -> Any:
    response = await client.post("/api/notifications/push/subscriptions", headers=me, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def listed(client: httpx.AsyncClient, me: dict[str, str]) -> list[str]:
    response = await client.get("/api/notifications/push/subscriptions", headers=me)
    assert response.status_code == 200, response.text
    return [s["endpoint"] for s in response.json()]


# -- the API ----------------------------------------------------------------------------------


async def test_subscribe_list_and_unsubscribe(api: httpx.AsyncClient) -> None:
    _, me = await register(api, "http://test")
    _, other = await register(api, "http://test")
    key = (await api.get("/api/notifications/push/key", headers=me)).json()["public_key"]
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))

    browser = Browser()
    endpoint = "https://fcm.googleapis.com/fcm/send/abc:def"
    first = await subscribe(api, me, browser.subscription(endpoint))
    # The same browser again (new keys): still one subscription, with the new keys.
    again = await subscribe(api, me, Browser().subscription(endpoint))
    assert again["id"] == first["id"]
    assert await listed(api, me) == [endpoint]
    assert await listed(api, other) == []

    # Another account signs in on that browser and subscribes: the browser is theirs now.
    await subscribe(api, other, Browser().subscription(endpoint))
    assert await listed(api, me) == []
    assert await listed(api, other) == [endpoint]

    params = {"endpoint": endpoint}
    refused = await api.delete("/api/notifications/push/subscriptions", headers=me, params=params)
    assert refused.status_code == 404
    gone = await api.delete("/api/notifications/push/subscriptions", headers=other, params=params)
    assert gone.status_code == 204
    assert await listed(api, other) == []


def _bad(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(body))
    for path, value in changes.items():
        target = out
        *parents, last = path.split("__")
        for p in parents:
            target = target[p]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return out


GOOD = Browser().subscription("https://updates.push.services.mozilla.com/wpush/v2/gAAAA")


@pytest.mark.parametrize(
    ("body", "field_name", "says"),
    [
        (_bad(GOOD, endpoint="http://push.example.com/x"), "endpoint", "https://"),
        (_bad(GOOD, endpoint="https://127.0.0.1/x"), "endpoint", "public address"),
        (_bad(GOOD, endpoint="https://localhost/x"), "endpoint", "localhost"),
        (_bad(GOOD, endpoint="not a url"), "endpoint", ""),
        (_bad(GOOD, keys__p256dh="AAAA"), "p256dh", "P-256"),
        (_bad(GOOD, keys__p256dh="!!!not base64!!!"), "p256dh", "P-256"),
        (_bad(GOOD, keys__auth=b64url(b"short")), "auth", "16-byte"),
        (_bad(GOOD, keys=...), "keys", ""),
        (_bad(GOOD, keys__auth=...), "auth", ""),
        (_bad(GOOD, extra="field"), "extra", ""),
        (_bad(GOOD, keys__extra="field"), "extra", ""),
        (_bad(GOOD, expirationTime="soon"), "expirationTime", ""),
    ],
)
async def test_bad_subscriptions_are_refused_with_what_to_fix(
    client: httpx.AsyncClient, body: dict[str, Any], field_name: str, says: str
) -> None:
    # The default settings: push endpoints must be https:// on public hosts.
    _, me = await register(client, "http://test")
    response = await client.post("/api/notifications/push/subscriptions", headers=me, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field_name in response.text
    assert says in response.text
    assert await listed(client, me) == []


async def test_unsubscribe_needs_the_endpoint(client: httpx.AsyncClient) -> None:
    _, me = await register(client, "http://test")
    response = await client.delete("/api/notifications/push/subscriptions", headers=me)
    assert response.status_code == 422
    assert "endpoint" in response.text


# -- delivery ---------------------------------------------------------------------------------


async def test_a_reminder_reaches_the_browser_encrypted_and_signed(
    system: LiveServer, push_service: PushService
) -> None:
    browser = Browser()
    async with httpx.AsyncClient(base_url=system.url) as client:
        _, me = await register(client, system.url)
        key = (await client.get("/api/notifications/push/key", headers=me)).json()["public_key"]
        await subscribe(client, me, browser.subscription(push_service.endpoint("me")))
        soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        created = await client.post(
            "/api/tasks", headers=me, json={"title": "Water the plants", "remind_at": soon}
        )
        assert created.status_code == 201, created.text
        await eventually(lambda: len(push_service.accepted) == 1, timeout=20)

    name, headers, body = push_service.accepted[0]
    assert name == "me"
    assert headers["content-encoding"] == "aes128gcm"
    assert int(headers["ttl"]) > 0
    assert 0 < len(headers["topic"]) <= 32
    message = json.loads(browser.decrypt(body))
    assert message["type"] == "reminder"
    assert message["title"] == "Water the plants"
    assert message["task_id"] == created.json()["id"]
    assert message["event_id"]

    scheme, _, credentials = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(p.split("=", 1) for p in credentials.split(","))
    assert parts["k"] == key
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    origin = f"http://{urlsplit(push_service.server.url).netloc}"
    claims = jwt.decode(parts["t"], public, algorithms=["ES256"], audience=origin)
    assert claims["sub"] == "mailto:todo@localhost"
    assert claims["exp"] <= datetime.now(UTC).timestamp() + 24 * 3600
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(parts["t"], public, algorithms=["ES256"], audience="https://fcm.googleapis.com")


def _reminder(user_id: str, title: str = "Call the dentist") -> Any:
    task_id = str(uuid.uuid4())
    return new_event(
        EventType.REMINDER_TRIGGERED,
        source="/recurring-task-service",
        user_id=user_id,
        subject=task_id,
        data=reminder_triggered(task_id=task_id, title=title),
    )


@pytest.mark.parametrize("status", [404, 410])
async def test_a_gone_subscription_is_removed(
    insecure_push: Container, api: httpx.AsyncClient, push_service: PushService, status: int
) -> None:
    _, me = await register(api, "http://test")
    gone, kept = Browser(), Browser()
    await subscribe(api, me, gone.subscription(push_service.endpoint("gone")))
    await subscribe(api, me, kept.subscription(push_service.endpoint("kept")))
    push_service.statuses = [status]  # the first POST (the older subscription) is refused

    delivery = ReminderDelivery(
        insecure_push.uow, None, reading=insecure_push.reading, push=insecure_push.push
    )
    event = _reminder(me["X-User"])
    await delivery(event)

    assert [r[0] for r in push_service.requests] == ["gone", "kept"]
    assert [r[0] for r in push_service.accepted] == ["kept"]
    assert await listed(api, me) == [push_service.endpoint("kept")]
    # Nothing is sent again to the removed one when the event comes back.
    await delivery(event)
    assert len(push_service.requests) == 2


async def test_a_busy_push_service_is_retried_and_the_message_delivered_once(
    insecure_push: Container, api: httpx.AsyncClient, push_service: PushService
) -> None:
    _, me = await register(api, "http://test")
    browser = Browser()
    await subscribe(api, me, browser.subscription(push_service.endpoint("busy")))
    push_service.statuses = [503, 429]

    delivery = ReminderDelivery(
        insecure_push.uow, None, reading=insecure_push.reading, push=insecure_push.push
    )
    event = _reminder(me["X-User"], "Pay the rent")
    await delivery(event)
    await delivery(event)  # the bus delivers at least once

    assert [h.get("topic") for _, h, _ in push_service.requests] == [
        push_service.requests[0][1]["topic"]
    ] * 3
    [(_, _, body)] = push_service.accepted
    assert json.loads(browser.decrypt(body))["title"] == "Pay the rent"
    assert json.loads(browser.decrypt(body))["event_id"] == event.id
    assert await listed(api, me) == [push_service.endpoint("busy")]


async def test_a_push_service_that_keeps_failing_is_recorded_and_the_subscription_kept(
    insecure_push: Container, api: httpx.AsyncClient, push_service: PushService
) -> None:
    _, me = await register(api, "http://test")
    await subscribe(api, me, Browser().subscription(push_service.endpoint("down")))
    push_service.statuses = [500, 502, 503]

    delivery = ReminderDelivery(
        insecure_push.uow, None, reading=insecure_push.reading, push=insecure_push.push
    )
    await delivery(_reminder(me["X-User"]))

    assert len(push_service.requests) == 3
    assert push_service.accepted == []
    assert await listed(api, me) == [push_service.endpoint("down")]


async def test_with_push_off_the_push_routes_say_so(container: Container) -> None:
    container.settings = container.settings.model_copy(update={"push_enabled": False})
    transport = httpx.ASGITransport(app=build_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        _, me = await register(client, "http://test")
        key = await client.get("/api/notifications/push/key", headers=me)
        stored = await client.post("/api/notifications/push/subscriptions", headers=me, json=GOOD)
    assert container.push is None
    for response in (key, stored):
        assert response.status_code == 404
        assert "push notifications are not set up" in response.json()["detail"]
