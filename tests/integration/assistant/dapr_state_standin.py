"""A stand-in for the Dapr sidecar's state API, as `assistant.dapr_state` uses it.

From Dapr's "State management API reference":

    POST   /v1.0/state/{store}        a JSON array of {"key", "value", "etag"?, "metadata"?};
                                      204; 400 for a malformed body; 500 for an unknown store
    GET    /v1.0/state/{store}/{key}  200 with the value as JSON; 204 (no body) when absent
    DELETE /v1.0/state/{store}/{key}  204 whether or not it existed

`metadata.ttlInSeconds` (a string of an integer) expires an item: after that
it reads as absent. The clock is injectable so a test can move time on.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from testsupport.openai_standin import LoopbackServer


@dataclass
class Item:
    value: Any
    expires_at: float | None


@dataclass
class DaprStateStandIn:
    stores: tuple[str, ...] = ("statestore-redis",)
    clock: Callable[[], float] = time.monotonic
    items: dict[tuple[str, str], Item] = field(default_factory=dict)
    saves: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = LoopbackServer(
            Starlette(
                routes=[
                    Route("/v1.0/state/{store}", self._save, methods=["POST"]),
                    Route("/v1.0/state/{store}/{key}", self._get, methods=["GET"]),
                    Route("/v1.0/state/{store}/{key}", self._delete, methods=["DELETE"]),
                ]
            )
        )

    @property
    def port(self) -> int:
        return self._server.port

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        await self._server.stop()

    def _unknown(self, store: str) -> Response | None:
        if store in self.stores:
            return None
        return JSONResponse(
            {
                "errorCode": "ERR_STATE_STORE_NOT_FOUND",
                "message": f"state store {store} is not found",
            },
            status_code=400,
        )

    async def _save(self, request: Request) -> Response:
        store = request.path_params["store"]
        if (refused := self._unknown(store)) is not None:
            return refused
        try:
            body = json.loads(await request.body())
        except json.JSONDecodeError:
            body = None
        if not isinstance(body, list) or not all(isinstance(i, dict) and "key" in i for i in body):
            return JSONResponse(
                {"errorCode": "ERR_MALFORMED_REQUEST", "message": "expected an array of items"},
                status_code=400,
            )
        for entry in body:
            self.saves.append(entry)
            ttl = (entry.get("metadata") or {}).get("ttlInSeconds")
            expires = None if ttl is None else self.clock() + int(ttl)
            self.items[(store, entry["key"])] = Item(entry.get("value"), expires)
        return Response(status_code=204)

    def _live(self, store: str, key: str) -> Item | None:
        item = self.items.get((store, key))
        if item is not None and item.expires_at is not None and item.expires_at <= self.clock():
            del self.items[(store, key)]
            return None
        return item

    async def _get(self, request: Request) -> Response:
        store, key = request.path_params["store"], request.path_params["key"]
        if (refused := self._unknown(store)) is not None:
            return refused
        item = self._live(store, key)
        if item is None:
            return Response(status_code=204)
        return JSONResponse(item.value)

    async def _delete(self, request: Request) -> Response:
        store, key = request.path_params["store"], request.path_params["key"]
        if (refused := self._unknown(store)) is not None:
            return refused
        self.items.pop((store, key), None)
        return Response(status_code=204)
