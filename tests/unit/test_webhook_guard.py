"""Webhooks go to public addresses only (unless private ones are allowed):
checked when saved, and again against what the host resolves to when sent."""

import asyncio
import socket
import ssl
from typing import Any

import httpx
import pytest

from services.notification.channels import DeliveryError, post_webhook, tls, webhook_url_problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.example.com/x", None),
        ("http://8.8.8.8/x", None),
        ("ftp://hooks.example.com/x", "must be an http:// or https:// URL"),
        ("http:///x", "must name a host"),
        ("http://hooks.example.com:99999/x", "has an invalid port"),
        ("http://127.0.0.1/x", "must be a public address"),
        ("http://LOCALHOST/x", "must be a public address, not localhost"),
        ("http://[::ffff:10.0.0.1]/x", "must be a public address"),
    ],
)
def test_what_is_refused_when_saved(url: str, problem: str | None) -> None:
    found = webhook_url_problem(url, allow_private=False)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(problem)


def test_private_addresses_pass_when_allowed() -> None:
    assert webhook_url_problem("http://127.0.0.1:8080/x", allow_private=True) is None
    assert webhook_url_problem("gopher://127.0.0.1/x", allow_private=True) is not None


def _resolving_to(address: str) -> Any:
    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    return fake


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "fe80::1"])
async def test_a_public_name_that_resolves_to_a_private_address_is_not_posted(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolving_to(address))
    posted: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        with pytest.raises(DeliveryError, match="non-public address"):
            await post_webhook("https://hooks.example.com/x", None, {"a": 1}, client=client)
    assert posted == []


async def test_a_public_name_that_resolves_publicly_is_posted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _resolving_to("93.184.215.14"))
    posted: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        await post_webhook("https://hooks.example.com/x", None, {"event_id": "e1"}, client=client)
    assert [str(r.url) for r in posted] == ["https://hooks.example.com/x"]
    assert posted[0].headers["X-Todo-Event-Id"] == "e1"


async def test_an_unresolvable_host_is_a_delivery_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(DeliveryError, match="does not resolve"):
        await post_webhook("https://nowhere.example/x", None, {}, attempts=1)


async def test_deliveries_share_one_tls_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each delivery makes its own client; none loads the certificate
    authorities again (milliseconds of CPU per delivery, under load)."""
    received: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        received.append(await reader.readexactly(length))
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    tls()  # made once per process, whenever the first delivery comes
    loads = 0
    load = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        nonlocal loads
        loads += 1
        load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        for n in range(3):
            await post_webhook(
                f"http://127.0.0.1:{port}/hook", None, {"event_id": f"e{n}"}, allow_private=True
            )
    assert len(received) == 3
    assert loads == 0, f"the certificate authorities were loaded {loads} times for 3 deliveries"
