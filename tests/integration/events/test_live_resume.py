"""A live feed that reconnects with `since` gets what it missed, in order,
then the live changes, each once."""

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import LiveServer
from tests.integration.events.test_event_flow import eventually, register


async def _messages(socket: Any, quiet: float) -> list[dict[str, Any]]:
    """Everything but pings until nothing arrives for `quiet` seconds."""
    got: list[dict[str, Any]] = []
    try:
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), quiet))
            if message["type"] != "ping":
                got.append(message)
    except TimeoutError:
        return got


async def _until(socket: Any, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            message = json.loads(await socket.recv())
            if message["type"] != "ping":
                got.append(message)
    return got


def _changes(messages: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(m["type"], m["data"]["task"]["title"], m["data"]["task"]["version"]) for m in messages]


async def test_a_reconnecting_socket_gets_what_it_missed_in_order_then_the_live_feed(
    live: LiveServer,
) -> None:
    async with httpx.AsyncClient() as client:
        token, alice = await register(client, live.url)
        url = f"{live.ws_url}?token={token}"
        async with websockets.connect(url) as first:
            await eventually(lambda: live.container.realtime.hub.count() == 1)
            rent = (
                await client.post(f"{live.url}/api/tasks", headers=alice, json={"title": "Rent"})
            ).json()
            [seen] = await _until(first, 1)
        # Offline: three changes the socket never saw.
        await client.patch(
            f"{live.url}/api/tasks/{rent['id']}", headers=alice, json={"priority": "high"}
        )
        await client.post(f"{live.url}/api/tasks", headers=alice, json={"title": "Gas"})
        await client.post(f"{live.url}/api/tasks/{rent['id']}/complete", headers=alice)
        async with websockets.connect(f"{url}&since={seen['event_id']}") as again:
            caught_up = await _until(again, 3)
            assert _changes(caught_up) == [
                ("task.updated", "Rent", 2),
                ("task.created", "Gas", 1),
                ("task.completed", "Rent", 3),
            ]
            await client.post(f"{live.url}/api/tasks", headers=alice, json={"title": "Water"})
            rest = await _messages(again, 1.5)
    # The missed changes also came by the live feed once the relay sent
    # them: each reached the socket once.
    assert _changes(rest) == [("task.created", "Water", 1)]
    ids = [m["event_id"] for m in caught_up + rest]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("since", ["not-an-event", "00000000-0000-0000-0000-000000000000"])
async def test_an_unknown_cursor_asks_the_client_to_refetch(live: LiveServer, since: str) -> None:
    async with httpx.AsyncClient() as client:
        token, alice = await register(client, live.url)
        async with websockets.connect(f"{live.ws_url}?token={token}&since={since}") as socket:
            assert (await _until(socket, 1))[0] == {"type": "resync"}
            # ...and the live feed still works.
            await client.post(f"{live.url}/api/tasks", headers=alice, json={"title": "Live"})
            assert _changes(await _until(socket, 1)) == [("task.created", "Live", 1)]


async def test_another_users_cursor_replays_nothing_of_theirs(live: LiveServer) -> None:
    async with httpx.AsyncClient() as client:
        alice_token, alice = await register(client, live.url)
        bob_token, _ = await register(client, live.url)
        async with websockets.connect(f"{live.ws_url}?token={alice_token}") as socket:
            await eventually(lambda: live.container.realtime.hub.count() == 1)
            await client.post(f"{live.url}/api/tasks", headers=alice, json={"title": "Secret"})
            [alices] = await _until(socket, 1)
        await client.post(f"{live.url}/api/tasks", headers=alice, json={"title": "Also secret"})
        async with websockets.connect(
            f"{live.ws_url}?token={bob_token}&since={alices['event_id']}"
        ) as bobs:
            assert await _messages(bobs, 1.0) == [{"type": "resync"}]


async def test_an_oversized_cursor_is_refused_and_nothing_breaks(live: LiveServer) -> None:
    async with httpx.AsyncClient() as client:
        token, alice = await register(client, live.url)
        with pytest.raises(websockets.exceptions.WebSocketException):
            async with websockets.connect(f"{live.ws_url}?token={token}&since={'x' * 65}") as s:
                await s.recv()
        async with websockets.connect(f"{live.ws_url}?token={token}") as socket:
            await eventually(lambda: live.container.realtime.hub.count() == 1)
            await client.post(f"{live.url}/api/tasks", headers=alice, json={"title": "Fine"})
            assert _changes(await _until(socket, 1)) == [("task.created", "Fine", 1)]
