"""Benchmark: the offline parser's throughput, and what the assistant adds to a turn.

1. Parser: `parse_utterance` over the development corpus
   (tests/unit/assistant/corpus.jsonl), in a loop on one core, for a fixed
   time. Target: >= 5,000 utterances/s.
2. Turn overhead, on a PostgreSQL database of its own: the same tool work
   ("add a task") three ways, interleaved, after a warm-up:
   - bare: `add_task` through an open in-process MCP session (what any client pays);
   - model turn: `POST /api/chat`'s turn (without HTTP) with a model stand-in that
     answers at once, in a process of its own as a real model is (`bench.model_server`):
     model call -> add_task -> model call -> answer, history loaded, messages and
     chat events saved;
   - offline turn: the same request read by the offline parser.
   Conversations last 10 turns, and each request names the answer its client
   saw last, as the page and the terminal do. The model's round trip (SDK +
   loopback HTTP to the stand-in) is measured on its own and subtracted: what
   is left, less the bare tool call, is the turn's own work. A turn is timed up
   to its `done`, so it includes the conversation's storage on the stream's path
   (reading the history when the process does not hold it, writing the turn
   ahead in one statement), which is also timed inside the turn and reported
   beside. Target (`chat_overhead`): the turn's own work is <= 20% of the
   model's own time in it (two round trips to a stand-in that answers at once,
   so a real model's seconds only shrink the ratio). Beside it, the same work
   over the bare tool call (`chat_overhead_vs_tool_call`).
   The fold of the turn into its conversation (messages and chat events, one
   transaction) runs after `done`; the benchmark waits for it between turns,
   outside the timings, so it does not slow the next measurement, and reports
   its time on its own. Medians throughout: the machine is shared.
"""

import json
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from assistant.chat import Assistant
from assistant.config import AssistantSettings
from assistant.parsing import parse_utterance
from assistant.stream import ChatEvent
from assistant.tools import InProcessTools
from bench.common import database, ratio, recreate_database, summarize
from bench.model_server import ASKED_TO_ADD, ModelServer
from services.bootstrap import bootstrap
from services.shared.auth import accounts
from services.shared.auth.principal import Principal
from services.shared.tables import tasks

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "unit" / "assistant" / "corpus.jsonl"
PARSER_TARGET = 5_000.0
OVERHEAD_TARGET = 0.20
# Turns per conversation: the history a model turn loads and sends grows to
# about 4 * SESSION_TURNS messages, as in a chat session, not without bound.
SESSION_TURNS = 10


@dataclass(frozen=True, slots=True)
class AssistantBenchConfig:
    database: str
    parse_seconds: float
    turns: int
    warmup: int


FULL = AssistantBenchConfig("todo_bench_assistant", parse_seconds=5.0, turns=200, warmup=20)
QUICK = AssistantBenchConfig("todo_bench_assistant_q", parse_seconds=1.0, turns=30, warmup=5)


def _utterances() -> list[tuple[str, datetime, str]]:
    """The corpus's sentences, each with its moment and zone."""
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return [(r["text"], datetime.fromisoformat(r["now"]), r["tz"]) for r in rows]


def parser_throughput(seconds: float) -> dict[str, Any]:
    items = _utterances()
    for text_, now, tz in items:  # warm the caches the parser keeps
        parse_utterance(text_, now, tz)
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for text_, now, tz in items:
            parse_utterance(text_, now, tz)
        done += len(items)
    elapsed = time.perf_counter() - started
    per_second = done / elapsed
    return {
        "utterances": done,
        "distinct": len(items),
        "source": "corpus",
        "seconds": round(elapsed, 2),
        "per_second": round(per_second),
        "target_per_second": PARSER_TARGET,
        "meets_target": per_second >= PARSER_TARGET,
    }


async def _ignore(event: ChatEvent) -> None:
    return None


def _answers(into: dict[str, uuid.UUID | None], kind: str) -> Callable[[ChatEvent], Any]:
    """An emit that keeps the id of the answer its turn's `done` names, as a client does."""

    async def emit(event: ChatEvent) -> None:
        if event.event == "done":
            into[kind] = uuid.UUID(str(event.data["message_id"]))

    return emit


def _settings(**values: Any) -> AssistantSettings:
    base: dict[str, Any] = {
        "openai_api_key": None,
        "openai_base_url": None,
        "mcp_url": None,
        "langfuse_public_key": None,
        "langfuse_secret_key": None,
        "langfuse_host": None,
        "chat_model_retries": 0,
    }
    return AssistantSettings(_env_file=None, **{**base, **values})


async def _tasks_titled(container: Any, title: str) -> int:
    async with container.reading() as uow:
        found = await uow.connection.execute(
            sa.select(sa.func.count()).select_from(tasks).where(tasks.c.title == title)
        )
        return int(found.scalar_one())


async def _timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def turn_overhead(cfg: AssistantBenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    db = database(cfg.database)
    await recreate_database(db)
    scratch = Path(tempfile.mkdtemp(prefix="assistant-bench-"))
    container = bootstrap(database_url=db.url, data_dir=scratch, local_user=False)
    standin = ModelServer()
    await standin.start()
    model = Assistant.for_container(
        container, _settings(openai_api_key="sk-bench", openai_base_url=standin.base_url)
    )
    offline = Assistant.for_container(container, _settings())
    await model.start()
    await offline.start()
    samples: dict[str, list[float]] = {
        name: []
        for name in (
            "bare",
            "model_turn",
            "offline_turn",
            "model_round_trip",
            "model_storage",
            "offline_storage",
            "model_fold",
            "offline_fold",
        )
    }
    # Time spent in the storage calls of the turn being measured.
    storage: dict[str, float] = {"model": 0.0, "offline": 0.0}
    folding: dict[str, float] = {"model": 0.0, "offline": 0.0}
    for name, part in (("model", model), ("offline", offline)):
        write_ahead, fold = part.write_ahead, part.fold

        async def timed_write(*args: Any, _write: Any = write_ahead, _name: str = name) -> None:
            started = time.perf_counter()
            await _write(*args)
            storage[_name] += time.perf_counter() - started

        async def timed_fold(*args: Any, _fold: Any = fold, _name: str = name) -> None:
            started = time.perf_counter()
            await _fold(*args)
            folding[_name] += time.perf_counter() - started

        part.write_ahead = timed_write  # type: ignore[method-assign,assignment]
        part.fold = timed_fold  # type: ignore[method-assign,assignment]
    try:
        async with container.uow() as uow:
            user: Principal = await accounts.ensure_local_user(
                uow, email="bench@assistant.example.com", timezone="Europe/Berlin"
            )
        tools_source = model.tools
        assert isinstance(tools_source, InProcessTools)
        conversations: dict[str, uuid.UUID | None] = {"model": None, "offline": None}
        # The answer each conversation's client saw last (the next request names it).
        answers: dict[str, uuid.UUID | None] = {"model": None, "offline": None}

        async def model_turn() -> None:
            storage["model"] = 0.0
            started = time.perf_counter()
            turn = await model.open_turn(
                user,
                ASKED_TO_ADD,
                conversation_id=conversations["model"],
                last_answer_id=answers["model"],
            )
            storage["model"] += time.perf_counter() - started  # the history read, if any
            conversations["model"] = turn.conversation_id
            await turn.run(_answers(answers, "model"))

        async def offline_turn() -> None:
            storage["offline"] = 0.0
            started = time.perf_counter()
            turn = await offline.open_turn(
                user,
                "buy bench supplies",
                conversation_id=conversations["offline"],
                last_answer_id=answers["offline"],
            )
            storage["offline"] += time.perf_counter() - started
            conversations["offline"] = turn.conversation_id
            await turn.run(_answers(answers, "offline"))

        client = model.agent._client  # type: ignore[attr-defined]

        async def round_trip() -> None:
            chunks = await client.chat.completions.create(
                model="bench",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async for _ in chunks:
                pass

        async with tools_source.connect(user, None) as session:

            async def bare() -> None:
                outcome = await session.call("add_task", {"title": "Bench task"})
                assert outcome.ok, outcome.text

            for number in range(cfg.warmup + cfg.turns):
                measured = number >= cfg.warmup
                if number % SESSION_TURNS == 0:  # a chat session: history grows, then resets
                    conversations.update(model=None, offline=None)
                    answers.update(model=None, offline=None)
                for name, work in (
                    ("bare", bare),
                    ("model_turn", model_turn),
                    ("offline_turn", offline_turn),
                    ("model_round_trip", round_trip),
                ):
                    seconds = await _timed(work)
                    kind = name.removesuffix("_turn")
                    if kind in folding:  # the fold after `done`, outside the timing
                        folding[kind] = 0.0
                        await (model if kind == "model" else offline).settled()
                    if measured:
                        samples[name].append(seconds)
                        if kind in folding:
                            samples[f"{kind}_storage"].append(storage[kind])
                            samples[f"{kind}_fold"].append(folding[kind])
                if measured and (number - cfg.warmup + 1) % 50 == 0:
                    log(f"  {number - cfg.warmup + 1} turns of each")
        added = await _tasks_titled(container, "Bench task")
        expected = 2 * (cfg.warmup + cfg.turns)  # bare calls and model turns
        assert added == expected, f"{added} tasks added, not {expected}: the model did not call"
    finally:
        await model.aclose()
        await offline.aclose()
        await standin.stop()
        await container.aclose()
    stats = {name: summarize(values) for name, values in samples.items()}
    # Medians: the machine is shared, and a few slow outliers say nothing about the loop.
    bare_ms = stats["bare"].p50
    model_ms = 2 * stats["model_round_trip"].p50  # the model's own time in a turn
    model_own = stats["model_turn"].p50 - bare_ms - model_ms
    offline_own = stats["offline_turn"].p50 - bare_ms
    model_loop = model_own - stats["model_storage"].p50
    offline_loop = offline_own - stats["offline_storage"].p50
    return {
        "latency": {name: s.as_dict() for name, s in stats.items()},
        "model_turn_over_bare": round(ratio(stats["model_turn"].p50, bare_ms), 2),
        "offline_turn_over_bare": round(ratio(stats["offline_turn"].p50, bare_ms), 2),
        "model_turn_own_ms": round(model_own, 2),
        "offline_turn_own_ms": round(offline_own, 2),
        "model_loop_ms": round(model_loop, 2),
        "offline_loop_ms": round(offline_loop, 2),
        "model_ms": round(model_ms, 2),
        "added_over_model": round(ratio(model_own, model_ms), 3),
        "added_by_model_turn": round(ratio(model_own, bare_ms), 3),
        "added_by_offline_turn": round(ratio(offline_own, bare_ms), 3),
        "added_by_model_loop": round(ratio(model_loop, bare_ms), 3),
        "added_by_offline_loop": round(ratio(offline_loop, bare_ms), 3),
        "target_added": OVERHEAD_TARGET,
        "meets_target": ratio(model_own, model_ms) <= OVERHEAD_TARGET,
    }


async def model_turns(seconds: float) -> int:
    """Model turns, one after another, for `seconds` (what `make profile-chat` samples);
    each turn's fold is awaited before the next, as in the benchmark. How many ran."""
    db = database("todo_bench_profile_chat")
    await recreate_database(db)
    scratch = Path(tempfile.mkdtemp(prefix="chat-profile-"))
    container = bootstrap(database_url=db.url, data_dir=scratch, local_user=False)
    standin = ModelServer()
    await standin.start()
    model = Assistant.for_container(
        container, _settings(openai_api_key="sk-bench", openai_base_url=standin.base_url)
    )
    await model.start()
    done = 0
    try:
        async with container.uow() as uow:
            user: Principal = await accounts.ensure_local_user(
                uow, email="profile@assistant.example.com", timezone="Europe/Berlin"
            )
        conversation: uuid.UUID | None = None
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            if done % SESSION_TURNS == 0:
                conversation = None
            turn = await model.open_turn(user, ASKED_TO_ADD, conversation_id=conversation)
            conversation = turn.conversation_id
            await turn.run(_ignore)
            await model.settled()
            done += 1
    finally:
        await model.aclose()
        await standin.stop()
        await container.aclose()
    return done


async def run(cfg: AssistantBenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    log(f"  parser throughput for {cfg.parse_seconds:.0f} s on one core")
    parser = parser_throughput(cfg.parse_seconds)
    log(f"  {parser['per_second']:,} utterances/s; turns: {cfg.turns} of each after {cfg.warmup}")
    return {"config": asdict(cfg), "parser": parser, "turns": await turn_overhead(cfg, log)}


def render(result: dict[str, Any]) -> list[str]:
    parser, turns = result["parser"], result["turns"]
    lat = turns["latency"]
    verdict = "met" if parser["meets_target"] else "NOT met"
    lines = [
        f"Assistant: parser {parser['per_second']:,} utterances/s on one core "
        f"({parser['distinct']} {parser['source']} utterances; target >= "
        f"{parser['target_per_second']:,.0f}: {verdict})",
        f"  {'per turn':<34}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}",
    ]
    labels = {
        "bare": "bare add_task (in-process MCP)",
        "model_turn": "model turn (zero-latency model)",
        "offline_turn": "offline turn",
        "model_round_trip": "one model round trip (SDK+HTTP)",
        "model_storage": "  of a model turn: history+write",
        "offline_storage": "  of an offline turn: write",
        "model_fold": "after done: folding a model turn",
        "offline_fold": "after done: folding offline",
    }
    for name, label in labels.items():
        s = lat[name]
        lines.append(f"  {label:<34}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}{s['mean_ms']:>9.2f}")
    verdict = "met" if turns["meets_target"] else "NOT met"
    lines += [
        f"  model turn / bare = {turns['model_turn_over_bare']:.2f}; offline turn / bare = "
        f"{turns['offline_turn_over_bare']:.2f} (medians, as everything below)",
        f"  a model turn's own work up to done: {turns['model_turn_own_ms']:.2f} ms = "
        f"+{turns['added_by_model_turn']:.0%} over the bare calls (target <= "
        f"{turns['target_added']:.0%}: {verdict}); offline "
        f"+{turns['added_by_offline_turn']:.0%} ({turns['offline_turn_own_ms']:.2f} ms); "
        "model round trips excluded throughout",
        f"  without the storage on the stream's path: model +{turns['added_by_model_loop']:.0%} "
        f"({turns['model_loop_ms']:.2f} ms), offline +{turns['added_by_offline_loop']:.0%} "
        f"({turns['offline_loop_ms']:.2f} ms)",
    ]
    return lines


__all__ = [
    "FULL",
    "QUICK",
    "AssistantBenchConfig",
    "model_turns",
    "parser_throughput",
    "render",
    "run",
]
