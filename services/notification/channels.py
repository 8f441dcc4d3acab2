"""Delivery channels beyond the in-app inbox: email (SMTP) and webhooks.

Each raises `DeliveryError` when it could not deliver; the caller records
`notification.failed` and dead-letters that channel without holding up the
others.
"""

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import httpx


class DeliveryError(Exception):
    pass


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool
    sender: str


def parse_smtp_url(url: str, sender: str) -> SmtpTarget:
    """`smtp://user:pass@host:587?starttls=true` or `smtps://host:465`."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:587 or smtps://host:465")
    query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    tls = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=tls,
        start_tls=query.get("starttls") in ("1", "true", "yes"),
        sender=query.get("from", sender),
    )


async def send_email(target: SmtpTarget, *, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = target.sender, to, subject
    message.set_content(body)
    try:
        await aiosmtplib.send(
            message,
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.use_tls,
            start_tls=target.start_tls,
            timeout=10,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise DeliveryError(f"email to {to} failed: {exc}") from exc


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `timestamp.body`, as receivers verify it."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def post_webhook(
    url: str,
    secret: str | None,
    payload: dict[str, Any],
    *,
    attempts: int = 3,
    client: httpx.AsyncClient | None = None,
) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Todo-Timestamp": timestamp,
        "X-Todo-Event-Id": str(payload.get("event_id", "")),
    }
    if secret:
        headers["X-Todo-Signature"] = sign(secret, timestamp, body)
    owned = client is None
    http = client or httpx.AsyncClient(timeout=5)
    last = "no attempt"
    try:
        for attempt in range(attempts):
            try:
                response = await http.post(url, content=body, headers=headers)
                if response.status_code < 300:
                    return
                last = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the receiver refuses it; retrying will not help
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.2 * 2**attempt)
    finally:
        if owned:
            await http.aclose()
    raise DeliveryError(f"webhook {url} failed: {last}")
