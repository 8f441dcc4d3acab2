"""`python -m bench.profile [--seconds N] [--chat | --relay]`: a flame graph of the
task API creating tasks under load (`make profile`), of chat turns (`--chat`), or
of the outbox relay publishing to Kafka (`--relay`).

Starts the API on a database of its own, drives POST /api/tasks at the
create benchmark's concurrency, and samples the server (and its worker
processes) with py-spy meanwhile. With `--chat`, py-spy runs model turns
against the local Chat Completions stand-in (in a process of its own, not
sampled), one after another as the assistant benchmark times them
(`bench.assistant_bench.model_turns`). With
`--relay`, it samples the relay benchmark's relay draining a full outbox to Kafka,
refilled and drained again (`bench.relay_throughput.kafka_rounds`; the refills
show as COPY). The SVG lands in bench/results/.
"""

import argparse
import asyncio
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.common import database, recreate_database
from bench.create_floor import TIMEZONE
from bench.create_throughput import FULL, PASSWORD, ApiSide, _drive
from bench.server import ApiServer

RESULTS = Path(__file__).resolve().parent / "results"
DATABASE = "todo_bench_profile"


async def _profile(seconds: int, out: Path) -> None:
    db = database(DATABASE)
    await recreate_database(db)
    async with ApiServer(db) as server:
        await server.register("profile@bench.example.com", PASSWORD, TIMEZONE)
        token = await server.login("profile@bench.example.com", PASSWORD)
        api = ApiSide(server, token, FULL.concurrency)
        try:
            await _drive(200, FULL.concurrency, api.one)  # warm-up
            spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            recorder = await asyncio.create_subprocess_exec(
                spy,
                "record",
                "--pid",
                str(server.pid),
                "--subprocesses",
                "--nonblocking",
                "--rate",
                "200",
                "--duration",
                str(seconds),
                "--format",
                "flamegraph",
                "--output",
                str(out),
                stdout=subprocess.DEVNULL,
            )
            load = asyncio.create_task(_drive(10**9, FULL.concurrency, api.one))
            await recorder.wait()
            load.cancel()
        finally:
            await api.aclose()
    if api.failures:
        raise SystemExit(f"{len(api.failures)} creates failed, e.g. {api.failures[0]}")


def _profile_run(what: str, seconds: int, out: Path) -> None:
    """py-spy over a process of its own running `--{what}` for `seconds`."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [sys.executable, "-m", "bench.profile", f"--{what}", str(seconds)]
    flame = ["--rate", "200", "--format", "flamegraph", "--output", str(out)]
    subprocess.run([spy, "record", *flame, "--", *command], check=True)  # noqa: S603


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--seconds", type=int, default=20, help="how long to sample")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--chat", action="store_true", help="chat turns instead of creates")
    kind.add_argument("--relay", action="store_true", help="the relay instead of creates")
    parser.add_argument("--chat-turns", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--relay-rounds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chat_turns is not None:  # the process py-spy samples
        from bench.assistant_bench import model_turns

        print(f"{asyncio.run(model_turns(args.chat_turns))} model turns")
        return
    if args.relay_rounds is not None:
        from bench.relay_throughput import kafka_rounds

        print(f"{asyncio.run(kafka_rounds(args.relay_rounds))} events relayed")
        return
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = "chat" if args.chat else "relay" if args.relay else "create"
    out = RESULTS / f"profile-{name}-{stamp}.svg"
    if args.chat:
        _profile_run("chat-turns", args.seconds, out)
    elif args.relay:
        _profile_run("relay-rounds", args.seconds, out)
    else:
        asyncio.run(_profile(args.seconds, out))
    print(f"flame graph written to {out.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
