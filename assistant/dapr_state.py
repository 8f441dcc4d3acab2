"""Conversation state in the Dapr state store `statestore-redis` (EVENT_BUS=dapr).

Dapr's state API ("State management API reference"):

    POST   /v1.0/state/{store}          [{"key", "value", "metadata": {"ttlInSeconds": "N"}}] -> 204
    GET    /v1.0/state/{store}/{key}    -> 200 with the value, 204 when there is none
    DELETE /v1.0/state/{store}/{key}    -> 204

Every replica sees the same state, and the store expires it (`ttlInSeconds`).
"""

from typing import Any, Final
from urllib.parse import quote

import httpx

from assistant.errors import AssistantError
from assistant.state import ConversationState

STORE_NAME: Final = "statestore-redis"


class DaprStateStore:
    def __init__(
        self,
        *,
        port: int,
        ttl_seconds: int,
        store: str = STORE_NAME,
        host: str = "127.0.0.1",
        timeout: float = 5.0,
    ) -> None:
        self._base = f"http://{host}:{port}/v1.0/state/{store}"
        self._ttl = ttl_seconds
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:  # nothing connects at import or construction time
            self._http = httpx.AsyncClient(timeout=self._timeout)
        return self._http

    def _url(self, key: str) -> str:
        return f"{self._base}/{quote(key, safe='')}"

    async def load(self, key: str) -> ConversationState | None:
        response = await self._request("GET", self._url(key))
        if response.status_code == 204 or not response.content:
            return None
        return ConversationState.model_validate_json(response.content)

    async def save(self, key: str, state: ConversationState) -> None:
        body = [
            {
                "key": key,
                "value": state.model_dump(mode="json"),
                "metadata": {"ttlInSeconds": str(self._ttl)},
            }
        ]
        await self._request("POST", self._base, json=body)

    async def delete(self, key: str) -> None:
        await self._request("DELETE", self._url(key))

    async def _request(self, method: str, url: str, json: Any = None) -> httpx.Response:
        try:
            response = await self.http.request(method, url, json=json)
        except httpx.HTTPError as exc:
            raise AssistantError(f"the conversation state store is unavailable: {exc}") from exc
        if response.status_code >= 400:
            raise AssistantError(
                f"the conversation state store answered {response.status_code}: "
                f"{response.text[:200]}"
            )
        return response

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


__all__ = ["STORE_NAME", "DaprStateStore"]
