"""A Dapr state store (e.g. `statestore-redis`, a `state.redis` component) through the sidecar.

Values are JSON documents (as bytes), kept under a key for a time to live (`ttlInSeconds`);
the store drops them after it. With the sidecar's gRPC port (DAPR_GRPC_PORT, which Dapr's
sidecar injector sets) the calls go through the official Dapr SDK over gRPC (`save_state`,
`get_state`, `delete_state`); without it through the sidecar's HTTP state API:

    POST   /v1.0/state/{store}          [{"key", "value", "metadata": {"ttlInSeconds": "N"}}]
    GET    /v1.0/state/{store}/{key}    200 with the value, 204 when there is none
    DELETE /v1.0/state/{store}/{key}    204

Either way the sidecar keeps one value per app id and key (Redis: the hash `<app-id>||<key>`),
so every replica of an app sees the same values. Errors are those of the Dapr transport:
`DaprError` when Dapr refuses (an unknown store, say), `DaprUnavailable` when the sidecar does
not answer.
"""

import json
from typing import Final
from urllib.parse import quote

import httpx

from events.dapr import DaprError, DaprUnavailable, SdkSidecar

__all__ = ["DaprState"]

_TTL: Final = "ttlInSeconds"


class DaprState:
    """The state store `store` of the sidecar on these loopback ports."""

    def __init__(
        self,
        *,
        store: str,
        http_port: int,
        grpc_port: int | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.store = store
        self._sidecar = (
            # The store's calls need its component, not the app behind the sidecar.
            SdkSidecar(
                http_port=http_port,
                grpc_port=grpc_port,
                timeout=timeout,
                ready_path="/v1.0/healthz/outbound",
            )
            if grpc_port is not None
            else None
        )
        self._base = f"http://127.0.0.1:{http_port}/v1.0/state/{quote(store, safe='')}"
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None

    @property
    def over_grpc(self) -> bool:
        return self._sidecar is not None

    async def get(self, key: str) -> bytes | None:
        """The value under `key`, or None when there is none (or it expired)."""
        doing = f"reading {key!r} from the state store {self.store!r}"
        if self._sidecar is not None:
            client = await self._sidecar.client()
            found = await self._sidecar.call(doing, client.get_state, self.store, key)
            return bytes(found.data) or None
        response = await self._request(doing, "GET", self._url(key))
        return response.content or None

    async def save(self, key: str, value: bytes, *, ttl_seconds: int) -> None:
        """Keep the JSON document `value` under `key` for `ttl_seconds`, replacing what was
        there."""
        doing = f"saving {key!r} in the state store {self.store!r}"
        metadata = {_TTL: str(ttl_seconds)}
        if self._sidecar is not None:
            client = await self._sidecar.client()
            await self._sidecar.call(
                doing, client.save_state, self.store, key, value, state_metadata=metadata
            )
            return
        # Sent as the JSON it is, Dapr keeps the same bytes the gRPC path does.
        body = [{"key": key, "value": json.loads(value), "metadata": metadata}]
        await self._request(doing, "POST", self._base, json=body)

    async def delete(self, key: str) -> None:
        """Drop the value under `key`; there being none is not an error."""
        doing = f"deleting {key!r} from the state store {self.store!r}"
        if self._sidecar is not None:
            client = await self._sidecar.client()
            await self._sidecar.call(doing, client.delete_state, self.store, key)
            return
        await self._request(doing, "DELETE", self._url(key))

    def _url(self, key: str) -> str:
        return f"{self._base}/{quote(key, safe='')}"

    async def _request(
        self, doing: str, method: str, url: str, json: object = None
    ) -> httpx.Response:
        if self._http is None:  # nothing connects at import or construction time
            self._http = httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await self._http.request(method, url, json=json)
        except httpx.HTTPError as exc:
            raise DaprUnavailable(f"{doing}: no answer from the Dapr sidecar: {exc!r}") from exc
        if response.status_code >= 400:
            raise DaprError.from_response(response, doing)
        return response

    async def aclose(self) -> None:
        if self._sidecar is not None:
            await self._sidecar.close()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
