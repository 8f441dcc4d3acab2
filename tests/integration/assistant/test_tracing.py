"""Langfuse tracing of a turn, received by a stand-in for the Langfuse host."""

import uuid
from collections.abc import AsyncIterator

import pytest

from assistant.config import AssistantSettings
from assistant.tracing import NoTracer, create_tracer
from tests.conftest import User
from tests.integration.assistant.conftest import say, settings
from testsupport.langfuse_standin import LangfuseStandIn
from testsupport.openai_standin import OpenAIStandIn, call, text, tools


@pytest.fixture
async def langfuse() -> AsyncIterator[LangfuseStandIn]:
    # A key of its own per test: the SDK keeps one client per public key.
    standin = LangfuseStandIn(public_key=f"pk-lf-{uuid.uuid4().hex}", secret_key="sk-lf-test")
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
def assistant_settings(
    openai_standin: OpenAIStandIn, langfuse: LangfuseStandIn
) -> AssistantSettings:
    return settings(
        openai_api_key="sk-standin",
        openai_base_url=openai_standin.base_url,
        langfuse_public_key=langfuse.public_key,
        langfuse_secret_key=langfuse.secret_key,
        langfuse_host=langfuse.url,
    )


async def test_a_turn_is_one_trace_with_generations_and_tool_spans(
    alice: User, openai_standin: OpenAIStandIn, langfuse: LangfuseStandIn, assistant: object
) -> None:
    openai_standin.script(
        tools(call("add_task", {"title": "Buy milk"})),
        text("Added."),
    )
    reply = await say(alice, "buy milk")
    assert reply.names[-1] == "done"
    await assistant.tracer.flush()  # type: ignore[attr-defined]

    spans = langfuse.spans
    assert langfuse.refused == 0
    assert len({s.trace_id for s in spans}) == 1
    (root,) = [s for s in spans if s.parent_span_id is None]
    assert root.name == "chat turn"
    assert root.attributes["user.id"] == alice.id
    assert root.attributes["session.id"] == reply.conversation_id
    generations = [s for s in spans if s.observation_type == "generation"]
    assert len(generations) == 2
    assert all(g.parent_span_id == root.span_id for g in generations)
    usage = generations[0].json_attribute("langfuse.observation.usage_details")
    assert usage == {"input": 11, "output": 7, "total": 18}
    assert generations[0].attributes["langfuse.observation.model.name"] == "gpt-4o-mini"
    (tool,) = [s for s in spans if s.name == "tool add_task"]
    assert tool.observation_type == "span"
    assert tool.parent_span_id == root.span_id
    assert tool.json_attribute("langfuse.observation.input") == {"title": "Buy milk"}


def test_tracing_is_off_without_all_three_settings() -> None:
    assert isinstance(create_tracer(public_key="pk", secret_key=None, host="http://x"), NoTracer)
    assert isinstance(create_tracer(public_key=None, secret_key=None, host=None), NoTracer)
