"""The live feed drops replayed changes: the bus delivers at least once and a
rebalance can replay part of a partition."""

from typing import Any, cast

from fastapi import WebSocket

from events import CloudEvent, EventType
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


def event(event_id: str, kind: str, version: int, task_id: str = "t1") -> CloudEvent:
    # Built as it arrives, without the producer's schema check: the hub only
    # reads the task's id and version.
    return CloudEvent(
        id=event_id,
        type=kind,
        source="/test",
        userid="u1",
        subject=task_id,
        data={"task": {"id": task_id, "version": version}},
    )


async def test_a_resuming_socket_gets_the_catch_up_then_the_held_live_feed_once() -> None:
    hub = ConnectionHub()
    socket = Socket()
    hub.add("u1", cast(WebSocket, socket), hold=True)
    # Live changes arrive while the catch-up is read: held back, not lost.
    await hub.send("u1", change("e3", "task.updated", 3))
    await hub.send("u1", change("e4", "task.created", 1, task_id="t2"))
    assert socket.sent == []
    # The catch-up overlaps the live feed (e3 was committed before it was read).
    await hub.replay(
        "u1",
        cast(WebSocket, socket),
        [event("e2", "task.updated", 2), event("e3", "task.updated", 3)],
    )
    await hub.release("u1", cast(WebSocket, socket))
    await hub.send("u1", change("e5", "task.completed", 4))
    await hub.send("u1", change("e4", "task.created", 1, task_id="t2"))  # redelivered
    assert [m["event_id"] for m in socket.sent] == ["e2", "e3", "e4", "e5"]


async def test_a_held_socket_does_not_hold_back_the_users_other_sockets() -> None:
    hub = ConnectionHub()
    open_, resuming = Socket(), Socket()
    hub.add("u1", cast(WebSocket, open_))
    hub.add("u1", cast(WebSocket, resuming), hold=True)
    await hub.send("u1", change("e1", "task.created", 1))
    assert [m["event_id"] for m in open_.sent] == ["e1"]
    assert resuming.sent == []
    await hub.replay("u1", cast(WebSocket, resuming), [])
    await hub.release("u1", cast(WebSocket, resuming))
    assert [m["event_id"] for m in resuming.sent] == ["e1"]


async def test_events_that_are_not_task_changes_are_not_replayed() -> None:
    hub = ConnectionHub()
    socket = Socket()
    hub.add("u1", cast(WebSocket, socket), hold=True)
    reminder = CloudEvent(
        type=EventType.REMINDER_TRIGGERED, source="/test", userid="u1", subject="t1", data={}
    )
    await hub.replay("u1", cast(WebSocket, socket), [reminder, event("e1", "task.created", 1)])
    await hub.release("u1", cast(WebSocket, socket))
    assert [m["event_id"] for m in socket.sent] == ["e1"]
