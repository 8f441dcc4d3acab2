"""Delivery channels beyond the in-app inbox: email (SMTP) and webhooks.

Each raises `DeliveryError` when it could not deliver; the caller records
`notification.failed` and dead-letters that channel without holding up the
others.
"""

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import httpx


class DeliveryError(Exception):
    pass


@functools.cache
def tls() -> ssl.SSLContext:
    """The TLS settings of outgoing deliveries (webhooks, web push), made once
    per process: loading the certificate authorities takes milliseconds of CPU,
    which a client made per delivery paid on every delivery."""
    return httpx.create_ssl_context()


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


async def send_email(
    target: SmtpTarget, *, to: str, subject: str, body: str, message_id: str | None = None
) -> None:
    """Send one mail. `message_id` makes a resend recognisable: delivery is at
    least once, and a mail sent again after a crash keeps its Message-ID."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = target.sender, to, subject
    if message_id:
        message["Message-ID"] = message_id
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


def stable_message_id(key: str, sender: str) -> str:
    """A Message-ID that is the same each time the same thing is sent."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "todo-app.invalid"
    return f"<{key}@{domain}>"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over `timestamp.body`, as receivers verify it."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def webhook_url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why a webhook URL is refused when saved, or None.

    Unless private networks are allowed (WEBHOOK_ALLOW_PRIVATE, for a laptop
    or a cluster-internal receiver), a URL may not name a loopback, private,
    link-local or otherwise non-public address: the service would otherwise
    POST into its own network on a user's behalf. Host names are checked again
    when a webhook is sent, against what they resolve to then."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    host = parts.hostname
    if not host:
        return "must name a host"
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return "has an invalid port"
    if allow_private:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return "must be a public address, not localhost"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not _public(ip):
        return "must be a public address, not a loopback, private or link-local one"
    return None


async def refuse_private(url: str, what: str = "webhook") -> None:
    """At send time: the host must resolve to public addresses only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DeliveryError(f"{what} host {host} does not resolve: {exc}") from exc
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if not _public(ipaddress.ip_address(address)):
            raise DeliveryError(
                f"{what} {url} refused: {host} resolves to the non-public address {address}"
            )


async def post_webhook(
    url: str,
    secret: str | None,
    payload: dict[str, Any],
    *,
    attempts: int = 3,
    client: httpx.AsyncClient | None = None,
    allow_private: bool = False,
) -> None:
    problem = webhook_url_problem(url, allow_private=allow_private)
    if problem is not None:
        raise DeliveryError(f"webhook {url} refused: it {problem}")
    if not allow_private:
        await refuse_private(url)
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
    http = client or httpx.AsyncClient(timeout=5, verify=tls())
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
