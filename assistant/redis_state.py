"""Conversation state in Redis (REDIS_URL, without Dapr): what several task-api
processes share, so a question asked by one is answered through another.

Each conversation's state is one string, `todo:chat-state:<key>`, that Redis
expires after the state's time to live. A Redis that refuses or does not answer is
an `AssistantError` that says so.
"""

from typing import Any, Final

from assistant.errors import AssistantError
from assistant.state import ConversationState

PREFIX: Final = "todo:chat-state:"


class RedisStateStore:
    def __init__(self, url: str, *, ttl_seconds: int, timeout: float = 5.0) -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._ttl = ttl_seconds

    async def load(self, key: str) -> ConversationState | None:
        value = await self._call("read", self._redis.get, PREFIX + key)
        return None if value is None else ConversationState.model_validate_json(value)

    async def save(self, key: str, state: ConversationState) -> None:
        await self._call(
            "write", self._redis.set, PREFIX + key, state.model_dump_json(), ex=self._ttl
        )

    async def delete(self, key: str) -> None:
        await self._call("delete", self._redis.delete, PREFIX + key)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            return await call(*args, **kwargs)
        except (RedisError, OSError) as exc:
            raise AssistantError(
                f"the conversation state store (Redis) could not {what} the state: {exc}"
            ) from exc


__all__ = ["PREFIX", "RedisStateStore"]
