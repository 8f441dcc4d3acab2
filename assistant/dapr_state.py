"""Conversation state in the Dapr state store `statestore-redis` (EVENT_BUS=dapr).

The transport is `events.dapr_state.DaprState`: the Dapr SDK over gRPC when the sidecar's
gRPC port is known (DAPR_GRPC_PORT), the sidecar's HTTP state API otherwise. Every replica
of the task API sees the same state, and the store expires it (`ttlInSeconds`). A store
that refuses or does not answer is an `AssistantError` that says so.
"""

from typing import Final

from assistant.errors import AssistantError
from assistant.state import ConversationState
from events.dapr import DaprError, DaprUnavailable
from events.dapr_state import DaprState

STORE_NAME: Final = "statestore-redis"


class DaprStateStore:
    def __init__(
        self,
        *,
        port: int,
        ttl_seconds: int,
        grpc_port: int | None = None,
        store: str = STORE_NAME,
        timeout: float = 5.0,
    ) -> None:
        self.dapr = DaprState(store=store, http_port=port, grpc_port=grpc_port, timeout=timeout)
        self._ttl = ttl_seconds

    async def load(self, key: str) -> ConversationState | None:
        try:
            value = await self.dapr.get(key)
        except DaprError as exc:
            raise _unavailable(exc) from exc
        return None if value is None else ConversationState.model_validate_json(value)

    async def save(self, key: str, state: ConversationState) -> None:
        try:
            await self.dapr.save(key, state.model_dump_json().encode(), ttl_seconds=self._ttl)
        except DaprError as exc:
            raise _unavailable(exc) from exc

    async def delete(self, key: str) -> None:
        try:
            await self.dapr.delete(key)
        except DaprError as exc:
            raise _unavailable(exc) from exc

    async def aclose(self) -> None:
        await self.dapr.aclose()


def _unavailable(exc: DaprError) -> AssistantError:
    if isinstance(exc, DaprUnavailable):
        return AssistantError(f"the conversation state store is unavailable: {exc}")
    return AssistantError(f"the conversation state store refused the request: {exc}")


__all__ = ["STORE_NAME", "DaprStateStore"]
