"""The app with the assistant's routes, and a client that reads its chat streams.

Until `services/composition.py` registers the assistant's router, the app is
composed here the way it will be: `build_app(container)`, the router, and
`assistant_lifespan` inside the app's lifespan. The assistant is built from
explicit settings (`assistant_settings` fixture), never from the environment.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from assistant.api import assistant_lifespan, router
from assistant.chat import Assistant
from assistant.config import AssistantSettings
from assistant.state import ConversationState, ListedTask, Pending, StateStore
from events.outbox import outbox_table
from services.app import build_app
from services.bootstrap import Container
from services.shared.auth.principal import Principal
from tests.conftest import User
from testsupport.openai_standin import OpenAIStandIn

CHAT_PATH = "/api/chat"


def settings(**values: Any) -> AssistantSettings:
    """Assistant settings from these values only (no environment, no .env)."""
    defaults: dict[str, Any] = {
        "openai_api_key": None,
        "openai_base_url": None,
        "mcp_url": None,
        "langfuse_public_key": None,
        "langfuse_secret_key": None,
        "langfuse_host": None,
        "chat_model_retries": 0,
        "chat_model_timeout_seconds": 10.0,
    }
    return AssistantSettings(_env_file=None, **{**defaults, **values})  # type: ignore[call-arg]


def chat_app(container: Container, assistant: Assistant) -> FastAPI:
    app = build_app(container)
    if not any(getattr(r, "path", None) == CHAT_PATH for r in app.routes):
        app.include_router(router)
    app.state.assistant = assistant
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[Any]:
        async with inner(running) as state, assistant_lifespan(running):
            yield state

    app.router.lifespan_context = lifespan
    return app


@pytest.fixture
def assistant_settings() -> AssistantSettings:
    return settings()


@pytest.fixture
async def assistant(
    container: Container, assistant_settings: AssistantSettings
) -> AsyncIterator[Assistant]:
    built = Assistant.for_container(container, assistant_settings)
    yield built
    await built.aclose()


@pytest.fixture
async def client(container: Container, assistant: Assistant) -> AsyncIterator[httpx.AsyncClient]:
    """Overrides the suite's client: the same app, with the assistant's routes."""
    app = chat_app(container, assistant)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as c:
        yield c


@pytest.fixture
async def openai_standin() -> AsyncIterator[OpenAIStandIn]:
    standin = OpenAIStandIn()
    await standin.start()
    yield standin
    await standin.stop()


@dataclass
class Reply:
    """One chat turn's events, as the client received them."""

    status: int
    events: list[tuple[str, dict[str, Any]]]

    def of(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]

    @property
    def names(self) -> list[str]:
        return [event for event, _ in self.events]

    @property
    def text(self) -> str:
        return "".join(data["text"] for data in self.of("token"))

    @property
    def done(self) -> dict[str, Any]:
        assert self.names[-1] == "done", self.events
        return self.of("done")[0]

    @property
    def conversation_id(self) -> str:
        return str(self.done["conversation_id"])


def parse_sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


async def say(
    user: User,
    message: str,
    conversation_id: str | None = None,
    last_answer_id: str | None = None,
) -> Reply:
    body: dict[str, Any] = {"message": message}
    if conversation_id:
        body["conversation_id"] = conversation_id
    if last_answer_id:
        body["last_answer_id"] = last_answer_id
    response = await user.post(CHAT_PATH, json=body)
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return Reply(response.status_code, parse_sse(response.text))
    return Reply(response.status_code, [])


async def titles(user: User, status: str = "all") -> list[str]:
    response = await user.get("/api/tasks", params={"status": status, "limit": 100})
    assert response.status_code == 200, response.text
    return sorted(task["title"] for task in response.json()["items"])


async def outbox_types(
    container: Container, assistant: Assistant, prefix: str = "chat."
) -> list[str]:
    """The outbox's event types, once the turns' background folds have ended."""
    await assistant.settled()
    async with container.engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(outbox_table.c.event_type).order_by(outbox_table.c.id))
        ).all()
    return [row[0] for row in rows if row[0].startswith(prefix)]


def principal_of(user: User, timezone: str = "America/New_York") -> Principal:
    """The assistant's view of a test user, as the routes resolve it."""
    return Principal(
        user_id=uuid.UUID(user.id),
        email=user.email,
        display_name=None,
        timezone=timezone,
    )


def a_state() -> ConversationState:
    """A conversation state waiting for a yes, for the state store tests."""
    return ConversationState(
        user_id=str(uuid.uuid4()),
        pending=Pending(summary="Delete?", calls=[]),
        listing=[ListedTask(id=str(uuid.uuid4()), title="Milk")],
    )


async def eventually_none(store: StateStore, key: str, timeout: float = 10.0) -> None:
    """Until the store no longer holds `key` (its time to live ran out)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await store.load(key) is not None:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{key} did not expire within {timeout} s")
        await asyncio.sleep(0.1)
