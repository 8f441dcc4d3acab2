"""GET /ws?token=…[&since=<event_id>] — the live feed of one user's task
changes (docs/reference.md, Live feed).

Every change message carries its `event_id`. A client that reconnects passes
the last one it received as `since`: the changes written after it are sent
first, from the outbox, in commit order, then the live feed continues with
nothing lost and nothing twice. When `since` cannot be resumed from (unknown,
older than the outbox keeps, or too far behind) the first message is
`{"type": "resync"}`: fetch the list again.
"""

import asyncio
import contextlib
import logging

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from events import Topic
from events.outbox import read_after
from services.errors import AuthError
from services.shared.auth import accounts

log = logging.getLogger(__name__)
router = APIRouter()
# More missed changes than this and the client refetches instead.
REPLAY_LIMIT = 1000


@router.websocket("/ws")
async def live(
    socket: WebSocket,
    token: str = Query(default="", max_length=4096),
    since: str = Query(default="", max_length=64),
) -> None:
    container = socket.app.state.container
    try:
        user = await accounts.resolve(
            container.principals, container.keys, token, container.reading
        )
    except AuthError:
        # Closing before accept answers the handshake with 403.
        await socket.close(code=4401, reason="invalid or missing token")
        return
    await socket.accept()
    user_id = str(user.user_id)
    hub = container.realtime.hub
    hub.add(user_id, socket, hold=bool(since))
    pinger: asyncio.Task[None] | None = None
    try:
        if since:
            await _catch_up(socket, user_id, since)
        pinger = asyncio.create_task(_ping(socket, container.settings.ws_ping_seconds))
        while True:
            await socket.receive_json()  # pongs (and anything else) keep it alive
    except (WebSocketDisconnect, ValueError, RuntimeError):
        pass
    finally:
        hub.remove(user_id, socket)
        if pinger is not None:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger


async def _catch_up(socket: WebSocket, user_id: str, since: str) -> None:
    """Send the changes after `since`, then the live ones held meanwhile."""
    container = socket.app.state.container
    hub = container.realtime.hub
    missed = None
    try:
        async with container.reading() as uow:
            missed = await read_after(
                uow.connection,
                partition_key=user_id,
                topic=Topic.TASK_EVENTS,
                after_event_id=since,
                limit=REPLAY_LIMIT,
            )
    except Exception:  # the database is away: the client refetches when it can
        log.warning("live feed catch-up of %s failed", user_id, exc_info=True)
    if missed is None:
        await socket.send_json({"type": "resync"})
    else:
        await hub.replay(user_id, socket, missed)
    await hub.release(user_id, socket)


async def _ping(socket: WebSocket, every: float) -> None:
    with contextlib.suppress(Exception):
        while True:
            await asyncio.sleep(every)
            await socket.send_json({"type": "ping"})
