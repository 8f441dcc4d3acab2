"""GET /ws?token=… — the live feed of one user's task changes (CONTRACT §3)."""

import asyncio
import contextlib

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from services.errors import AuthError
from services.shared.auth import accounts

router = APIRouter()


@router.websocket("/ws")
async def live(socket: WebSocket, token: str = Query(default="", max_length=4096)) -> None:
    container = socket.app.state.container
    try:
        async with container.reading() as uow:
            user = await accounts.authenticate(uow, container.keys, token)
    except AuthError:
        # Closing before accept answers the handshake with 403.
        await socket.close(code=4401, reason="invalid or missing token")
        return
    await socket.accept()
    user_id = str(user.user_id)
    hub = container.realtime.hub
    hub.add(user_id, socket)
    pinger = asyncio.create_task(_ping(socket, container.settings.ws_ping_seconds))
    try:
        while True:
            await socket.receive_json()  # pongs (and anything else) keep it alive
    except (WebSocketDisconnect, ValueError, RuntimeError):
        pass
    finally:
        hub.remove(user_id, socket)
        pinger.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pinger


async def _ping(socket: WebSocket, every: float) -> None:
    with contextlib.suppress(Exception):
        while True:
            await asyncio.sleep(every)
            await socket.send_json({"type": "ping"})
