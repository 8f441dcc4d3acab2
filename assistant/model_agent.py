"""The model's loop: Chat Completions with tool calling, streamed, over the MCP tools.

Each step streams one completion: its text goes out as `token` events, its
tool calls are collected from the deltas. Then the calls run (or wait for the
user's yes, `assistant.confirmation`) and their results go back for the next
step, up to `chat_max_tool_steps` steps a turn. Arguments that are not a JSON
object are not guessed at: the parse error goes back as the tool's result,
and the model can send them again.
"""

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from assistant import confirmation, history, stream
from assistant.config import AssistantSettings
from assistant.errors import ModelError
from assistant.messages import Message, ToolCall, tool_result
from assistant.prompt import system_prompt
from assistant.specs import function_specs
from assistant.state import HeldCall, Pending
from assistant.stream import ChatEvent
from assistant.tools import ToolOutcome
from assistant.turn import Turn, ask_to_confirm, say
from services.shared.metrics import CHAT_MODEL_TOKENS

HELD_RESULT = "Not done yet: waiting for the user's yes or no."
OUT_OF_STEPS = (
    "I stopped there: that needed more steps than I take in one turn. "
    "Tell me how you would like to go on."
)


@dataclass
class _Building:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class Reply:
    """One streamed completion, put back together."""

    text: str = ""
    building: dict[int, _Building] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None

    def add_tool_delta(
        self, index: int, call_id: str | None, name: str | None, args: str | None
    ) -> None:
        part = self.building.setdefault(index, _Building())
        if call_id:
            part.id = call_id
        if name:
            part.name += name
        if args:
            part.arguments.append(args)

    @property
    def calls(self) -> list[ToolCall]:
        return [
            ToolCall(b.id or f"call_{i}", b.name, "".join(b.arguments))
            for i, b in sorted(self.building.items())
        ]

    def output(self) -> dict[str, Any]:
        return {"text": self.text, "tool_calls": [c.to_json() for c in self.calls]}


def parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """The arguments as an object, or why they are not one (for the model to fix)."""
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        return None, (
            f"arguments are not valid JSON ({exc.msg} at character {exc.pos}): "
            "send them again as one JSON object"
        )
    if not isinstance(value, dict):
        return None, "arguments must be a JSON object of parameter names to values"
    return value, None


def _model_error(exc: Exception) -> ModelError:
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return ModelError("the model did not answer in time; try again")
    if isinstance(exc, openai.APIStatusError):
        return ModelError(f"the model's server answered {exc.status_code}: {exc.message}"[:500])
    if isinstance(exc, openai.APIConnectionError | httpx2.HTTPError):
        return ModelError("could not reach the model's server")
    return ModelError(f"the model's answer could not be read: {exc}"[:500])


class ModelAgent:
    mode = "model"
    uses_history = True

    def __init__(self, client: AsyncOpenAI, settings: AssistantSettings) -> None:
        self._client = client
        self._settings = settings

    @classmethod
    def from_settings(cls, settings: AssistantSettings) -> "ModelAgent":
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        client = AsyncOpenAI(
            api_key=key,
            base_url=settings.openai_base_url,
            timeout=settings.chat_model_timeout_seconds,
            max_retries=settings.chat_model_retries,
        )
        return cls(client, settings)

    async def aclose(self) -> None:
        await self._client.close()

    def respond(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        return self._loop(turn)

    def confirmed(
        self, turn: Turn, pending: Pending, outcomes: list[ToolOutcome]
    ) -> AsyncIterator[ChatEvent]:
        # The results are in the transcript: the model says what came of them.
        return self._loop(turn)

    def _messages(self, turn: Turn, system: str) -> list[dict[str, Any]]:
        current = sum(history.estimate(m) for m in turn.transcript)
        budget = self._settings.chat_history_tokens - history.estimate_text(system) - current
        earlier = history.trim(turn.history, max(budget, 0))
        return [
            {"role": "system", "content": system},
            *(m.to_openai() for m in [*earlier, *turn.transcript]),
        ]

    async def _loop(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        specs = function_specs(list(turn.tool_map.values()))  # with undo_last_change
        system = system_prompt(turn.user, turn.now, turn.tools.instructions)  # once a turn
        changed: set[str] = set()
        for _ in range(self._settings.chat_max_tool_steps):
            reply = Reply()
            messages = self._messages(turn, system)
            generation = turn.trace.generation(model=self._settings.openai_model, input=messages)
            try:
                async for text in self._complete(messages, specs, reply):
                    yield stream.token(text)
            except ModelError as exc:
                generation.end(error=exc.detail)
                raise
            generation.end(output=reply.output(), usage_details=reply.usage or None)
            CHAT_MODEL_TOKENS.labels(kind="prompt").inc(reply.usage.get("input", 0))
            CHAT_MODEL_TOKENS.labels(kind="completion").inc(reply.usage.get("output", 0))
            if not reply.calls:
                turn.finish(reply.text)
                return
            async for event in self._step(turn, reply, changed):
                yield event
            if turn.confirming:
                return
        async for event in say(turn, OUT_OF_STEPS):
            yield event

    async def _step(self, turn: Turn, reply: Reply, changed: set[str]) -> AsyncIterator[ChatEvent]:
        """Run one step's tool calls; the ones that must wait become a confirmation."""
        calls = reply.calls
        turn.transcript.append(
            Message(role="assistant", content=reply.text or None, tool_calls=tuple(calls))
        )
        results: dict[str, str] = {}
        parsed: list[tuple[ToolCall, dict[str, Any]]] = []
        for call in calls:
            arguments, problem = parse_arguments(call.arguments)
            if arguments is None:
                yield stream.tool_call(call.id, call.name, call.arguments)
                yield stream.tool_result(call.id, False, problem)
                results[call.id] = f"Error: {problem}"
            else:
                parsed.append((call, arguments))
        tools = turn.tool_map
        writes = [(c, a) for c, a in parsed if not (c.name in tools and tools[c.name].read_only)]
        named = [(c.name, a) for c, a in writes]
        hold = confirmation.held(named, tools, changed)
        waiting = {c.id for c, _ in writes} if hold else set()
        for call, arguments in parsed:
            if call.id in waiting:
                continue
            yield stream.tool_call(call.id, call.name, arguments)
            outcome = await turn.call_tool(call.id, call.name, arguments)
            yield stream.tool_result(call.id, outcome.ok, outcome.result)
            results[call.id] = outcome.text if outcome.ok else f"Error: {outcome.text}"
            if outcome.ok:
                changed |= confirmation.changed_tasks([(call.name, arguments)], tools)
        pending = await self._pending(turn, writes, results) if hold else None
        for call, arguments in writes if hold else ():
            if call.id in results:  # named a task the user does not have: failed, not held
                yield stream.tool_call(call.id, call.name, arguments)
                yield stream.tool_result(call.id, False, results[call.id].removeprefix("Error: "))
        for call in calls:
            turn.transcript.append(tool_result(call.id, results.get(call.id, HELD_RESULT)))
        if pending is not None:
            async for event in ask_to_confirm(turn, pending):
                yield event

    async def _pending(
        self, turn: Turn, writes: list[tuple[ToolCall, dict[str, Any]]], results: dict[str, str]
    ) -> Pending | None:
        """The held calls, each named by its task's title; an unknown task fails at once."""
        held: list[HeldCall] = []
        actions: list[str] = []
        for call, arguments in writes:
            title = None
            if "task_id" in arguments:
                found = await turn.lookup("get_task", {"task_id": arguments["task_id"]})
                if not found.ok:
                    results[call.id] = f"Error: {found.text}"
                    continue
                title = str((found.structured or {}).get("title") or "") or None
            held.append(HeldCall(name=call.name, arguments=arguments))
            actions.append(confirmation.action(call.name, title))
        if not held:
            return None
        return Pending(summary=confirmation.summary(actions), calls=held)

    async def _complete(
        self, messages: list[dict[str, Any]], specs: list[dict[str, Any]], reply: Reply
    ) -> AsyncIterator[str]:
        """Stream one completion into `reply`, yielding its text as it comes."""
        deadline = time.monotonic() + self._settings.chat_model_timeout_seconds * 4
        try:
            # The body is already in wire format: posting it as is skips the SDK's
            # recursive re-typing of every message and schema (milliseconds a call).
            chunks = await self._client.post(
                "/chat/completions",
                body={
                    "model": self._settings.openai_model,
                    "messages": messages,
                    "tools": specs,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
                cast_to=ChatCompletion,
                stream=True,
                stream_cls=AsyncStream[ChatCompletionChunk],
            )
            try:
                async for chunk in chunks:
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    if chunk.usage is not None:
                        reply.usage = {
                            "input": chunk.usage.prompt_tokens,
                            "output": chunk.usage.completion_tokens,
                            "total": chunk.usage.total_tokens,
                        }
                    for choice in chunk.choices:
                        delta = choice.delta
                        if delta.content:
                            reply.text += delta.content
                            yield delta.content
                        for part in delta.tool_calls or ():
                            fn = part.function
                            name, args = (fn.name, fn.arguments) if fn else (None, None)
                            reply.add_tool_delta(part.index, part.id, name, args)
                        reply.finish_reason = choice.finish_reason or reply.finish_reason
            finally:
                await chunks.close()
        except (openai.OpenAIError, httpx2.HTTPError, TimeoutError, ValueError) as exc:
            raise _model_error(exc) from exc


__all__ = ["ModelAgent", "Reply", "parse_arguments"]
