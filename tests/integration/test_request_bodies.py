"""Request bodies a client gets wrong: too large without a Content-Length
(chunked), and JSON that does not parse. Over a real server (uvicorn on a
loopback port) and in process; the answer is a problem+json 4xx that says
what to fix, and nothing is stored."""

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from services.bootstrap import Container
from tests.conftest import LiveServer, User
from tests.integration.test_bad_input import assert_problem, snapshot

CHUNK = 64 * 1024


async def _chunked_until_answered(
    url: str, path: str, token: str, *, content_type: str, most: int
) -> tuple[int, dict[str, str], bytes, int]:
    """POST a chunked body to the live server, one chunk after another, and never
    its last chunk: the answer has to come while the body is unfinished, which
    shows the server stopped reading. Returns status, headers, body and the bytes
    sent before the answer came."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    writer.write(head.encode())
    sent = 0
    answer = asyncio.ensure_future(reader.readuntil(b"\r\n\r\n"))
    try:
        while not answer.done():
            assert sent < most, f"{sent} bytes sent and still no answer"
            writer.write(f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n")
            sent += CHUNK
            await writer.drain()
            await asyncio.wait([answer], timeout=0.01)
        raw_head = answer.result().decode()
        status = int(raw_head.split(" ", 2)[1])
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in raw_head.split("\r\n")[1:])
            if name
        }
        body = await reader.readexactly(int(headers["content-length"]))
        return status, headers, body, sent
    finally:
        answer.cancel()
        writer.close()


async def test_a_chunked_body_over_the_limit_is_refused_with_413_naming_it(
    live: LiveServer, alice: User
) -> None:
    before = await snapshot(live.container)
    status, headers, body, sent = await _chunked_until_answered(
        live.url, "/api/tasks", alice.token, content_type="application/json", most=8 << 20
    )
    assert status == 413, body
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413
    assert "1 MiB" in problem["detail"]
    assert "1048576 bytes" in problem["detail"]
    # The answer came once the limit was passed, not after the 8 MiB offered.
    assert sent <= (1 << 20) + 8 * CHUNK
    assert await snapshot(live.container) == before


async def test_a_chunked_import_over_the_limit_is_refused_with_413(
    live: LiveServer, alice: User
) -> None:
    before = await snapshot(live.container)
    status, headers, body, sent = await _chunked_until_answered(
        live.url, "/api/import", alice.token, content_type="text/csv", most=32 << 20
    )
    assert status == 413, body
    assert headers["content-type"] == "application/problem+json"
    assert "5 MB" in json.loads(body)["detail"]
    assert sent <= (6 << 20) + 8 * CHUNK
    assert await snapshot(live.container) == before


async def test_a_chunked_body_within_the_limit_is_read(alice: User) -> None:
    async def pieces() -> Any:
        for piece in (b'{"title": ', b'"sent in ', b'pieces"}'):
            yield piece

    created = await alice.post(
        "/api/tasks", content=pieces(), headers={"Content-Type": "application/json"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["title"] == "sent in pieces"


async def test_a_chunked_body_over_the_limit_in_process_reads_no_further(alice: User) -> None:
    pulled = 0

    async def endless() -> Any:
        nonlocal pulled
        while pulled < 64 << 20:
            pulled += CHUNK
            yield b"x" * CHUNK

    response = await alice.post(
        "/api/tasks", content=endless(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413, "1 MiB")
    assert pulled <= (1 << 20) + CHUNK


MALFORMED = b'{\n  "title": "pay rent",\n  "priority": "high",\n}'


async def test_malformed_json_says_where_on_each_endpoint(
    client: httpx.AsyncClient, container: Container, alice: User
) -> None:
    task = await alice.add(title="kept")
    before = await snapshot(container)
    json_type = {"Content-Type": "application/json"}
    for response in (
        await alice.post("/api/tasks", content=MALFORMED, headers=json_type),
        await alice.patch(f"/api/tasks/{task['id']}", content=MALFORMED, headers=json_type),
        await client.post("/api/auth/login", content=MALFORMED, headers=json_type),
    ):
        assert_problem(response, 400, "not valid JSON", "line 4, column 1")
        problem = response.json()
        assert problem["title"] == "Malformed JSON"
        assert problem["errors"] == [
            {
                "field": "body",
                "message": "Expecting property name enclosed in double quotes at line 4, column 1",
                "type": "json_invalid",
            }
        ]
    assert await snapshot(alice.client._transport.app.state.container) == before  # type: ignore[attr-defined]
    cut_short = await alice.post("/api/tasks", content=b'{"title": "a', headers=json_type)
    assert_problem(cut_short, 400, "not valid JSON", "line 1, column 11")


async def test_malformed_json_import_says_where(alice: User) -> None:
    response = await alice.post(
        "/api/import?format=json", content=MALFORMED, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 422, "not valid JSON", "line 4, column 1")
    assert (await alice.get("/api/tasks")).json()["total"] == 0
