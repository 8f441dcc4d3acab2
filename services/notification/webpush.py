"""Web Push: reminders to a browser whose page is closed.

The browser's push service (FCM for Chrome, Mozilla's for Firefox, Apple's for
Safari) hands each subscription an endpoint URL and two keys. A message is
encrypted for those keys (RFC 8291, `aes128gcm` of RFC 8188, by `pywebpush`),
signed for the push service with our VAPID key (RFC 8292, by `py_vapid`), and
POSTed to the endpoint (RFC 8030). Nothing here is specific to one push service.
"""

import asyncio
import base64
import binascii
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException

from services.notification.channels import (
    DeliveryError,
    refuse_private,
    tls,
    webhook_url_problem,
)

# How long a push service keeps a message for a browser that is offline.
TTL_SECONDS = 24 * 3600
# The VAPID token's lifetime; RFC 8292 allows at most 24 hours.
TOKEN_SECONDS = 12 * 3600


class SubscriptionGone(DeliveryError):
    """The push service answered 404 or 410: the subscription no longer exists."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Base64url with or without padding; ValueError when it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("is not base64url") from exc


def endpoint_problem(url: str, *, allow_insecure: bool) -> str | None:
    """Why a push endpoint is refused when subscribed, or None.

    Browsers' push services are https:// on public hosts; the server POSTs to
    the endpoint, so anything else (unless `PUSH_ALLOW_INSECURE`, for a local
    push service) could make it call into its own network."""
    if not allow_insecure and urlsplit(url).scheme != "https":
        return "must be an https:// URL"
    return webhook_url_problem(url, allow_private=allow_insecure)


def p256dh_problem(value: str) -> str | None:
    """The browser's ECDH public key: an uncompressed point on P-256, base64url."""
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(value))
    except ValueError:
        return "must be the base64url of an uncompressed P-256 public key (65 bytes)"
    return None


def auth_problem(value: str) -> str | None:
    try:
        raw = b64url_decode(value)
    except ValueError:
        raw = b""
    if len(raw) != 16:
        return "must be the base64url of the 16-byte authentication secret"
    return None


def b64url_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The VAPID public key as the page's `applicationServerKey`: base64url of
    the uncompressed point."""
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(raw)


@dataclass(frozen=True)
class Subscription:
    endpoint: str
    p256dh: str
    auth: str


def topic_for(key: str) -> str:
    """An RFC 8030 `Topic` (at most 32 base64url characters) derived from an
    idempotency key: a push service that still holds an undelivered message with
    the same topic replaces it, so a resend does not queue a second copy."""
    return b64url(hashlib.sha256(key.encode()).digest()[:24])


@dataclass(frozen=True)
class PushSender:
    key: ec.EllipticCurvePrivateKey
    subject: str
    allow_insecure: bool = False

    @property
    def public_key(self) -> str:
        """The `applicationServerKey` the page subscribes with."""
        return b64url_public_key(self.key)

    def authorization(self, endpoint: str) -> str:
        """`vapid t=<JWT>,k=<public key>`; the JWT's audience is the endpoint's origin."""
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int(time.time()) + TOKEN_SECONDS,
            "sub": self.subject,
        }
        return str(Vapid02(private_key=self.key).sign(claims)["Authorization"])

    def encrypt(self, subscription: Subscription, payload: dict[str, Any]) -> bytes:
        body = json.dumps(payload, separators=(",", ":")).encode()
        info = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        try:
            encoded = WebPusher(info).encode(body, content_encoding="aes128gcm")
        except (WebPushException, ValueError) as exc:
            raise DeliveryError(f"push to {subscription.endpoint} not encrypted: {exc}") from exc
        return bytes(encoded["body"])

    async def send(
        self,
        subscription: Subscription,
        payload: dict[str, Any],
        *,
        topic: str,
        attempts: int = 3,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """Deliver one message. 404/410 raise `SubscriptionGone`; 429, 5xx and
        network errors are retried; any other refusal raises `DeliveryError`."""
        url = subscription.endpoint
        problem = endpoint_problem(url, allow_insecure=self.allow_insecure)
        if problem is not None:
            raise DeliveryError(f"push endpoint {url} refused: it {problem}")
        if not self.allow_insecure:
            await refuse_private(url, "push endpoint")
        body = self.encrypt(subscription, payload)
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Encoding": "aes128gcm",
            "TTL": str(TTL_SECONDS),
            "Urgency": "high",
            "Topic": topic,
            "Authorization": self.authorization(url),
        }
        owned = client is None
        http = client or httpx.AsyncClient(timeout=10, verify=tls())
        last = "no attempt"
        try:
            for attempt in range(attempts):
                try:
                    response = await http.post(url, content=body, headers=headers)
                    status = response.status_code
                    if status < 300:
                        return
                    if status in (404, 410):
                        raise SubscriptionGone(f"push subscription {url} is gone (HTTP {status})")
                    last = f"HTTP {status}: {response.text[:200]}"
                    if status < 500 and status not in (408, 429):
                        break  # the push service refuses it; retrying will not help
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.2 * 2**attempt)
        finally:
            if owned:
                await http.aclose()
        raise DeliveryError(f"push to {url} failed: {last}")
