"""The live feed drops replayed changes: the bus delivers at least once and a
rebalance can replay part of a partition."""

from typing import Any, cast

from fastapi import WebSocket

from services.tasks.realtime import ConnectionHub


class Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, message: dict[str, Any]) -> None:
        self.sent.append(dict(message))


def change(event_id: str, kind: str, version: int, task_id: str = "t1") -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": event_id,
        "data": {"task": {"id": task_id, "version": version}},
    }


async def test_a_redelivered_or_stale_change_reaches_the_page_once_and_in_order() -> None:
    hub = ConnectionHub()
    socket = Socket()
    hub.add("u1", cast(WebSocket, socket))
    for message in [
        change("e1", "task.created", 1),
        change("e2", "task.updated", 2),
        change("e1", "task.created", 1),  # redelivered
        change("e2", "task.updated", 2),  # redelivered
        change("e3", "task.updated", 3),
        change("e4", "task.created", 1, task_id="t2"),
        change("e5", "task.deleted", 3),  # a delete keeps the last version
    ]:
        await hub.send("u1", message)
    assert [m["event_id"] for m in socket.sent] == ["e1", "e2", "e3", "e4", "e5"]


async def test_a_change_older_than_the_one_sent_is_dropped() -> None:
    hub = ConnectionHub()
    socket = Socket()
    hub.add("u1", cast(WebSocket, socket))
    await hub.send("u1", change("e2", "task.updated", 2))
    await hub.send("u1", change("e1", "task.created", 1))
    assert [m["event_id"] for m in socket.sent] == ["e2"]


async def test_each_user_has_their_own_record_and_it_ends_with_their_last_socket() -> None:
    hub = ConnectionHub()
    alice, bob = Socket(), Socket()
    hub.add("alice", cast(WebSocket, alice))
    hub.add("bob", cast(WebSocket, bob))
    await hub.send("alice", change("e1", "task.created", 1))
    await hub.send("bob", change("e1", "task.created", 1))
    assert len(alice.sent) == len(bob.sent) == 1
    hub.remove("alice", cast(WebSocket, alice))
    again = Socket()
    hub.add("alice", cast(WebSocket, again))
    await hub.send("alice", change("e9", "task.updated", 1))
    assert [m["event_id"] for m in again.sent] == ["e9"]
