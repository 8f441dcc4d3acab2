"""`python -m bench.profile [--seconds N] [--chat]`: a flame graph of the task API
creating tasks under load (`make profile`), or of chat turns (`--chat`).

Starts the API on a database of its own, drives POST /api/tasks at the
create benchmark's concurrency, and samples the server (and its worker
processes) with py-spy meanwhile. With `--chat`, py-spy runs model turns
against the local Chat Completions stand-in, one after another as the
assistant benchmark times them (`bench.assistant_bench.model_turns`). The SVG
lands in bench/results/.
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


def _profile_chat(seconds: int, out: Path) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [sys.executable, "-m", "bench.profile", "--chat-turns", str(seconds)]
    flame = ["--rate", "200", "--format", "flamegraph", "--output", str(out)]
    subprocess.run([spy, "record", *flame, "--", *command], check=True)  # noqa: S603


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--seconds", type=int, default=20, help="how long to sample")
    parser.add_argument("--chat", action="store_true", help="chat turns instead of creates")
    parser.add_argument("--chat-turns", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chat_turns is not None:  # the process py-spy samples
        from bench.assistant_bench import model_turns

        print(f"{asyncio.run(model_turns(args.chat_turns))} model turns")
        return
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"profile-{'chat' if args.chat else 'create'}-{stamp}.svg"
    if args.chat:
        _profile_chat(args.seconds, out)
    else:
        asyncio.run(_profile(args.seconds, out))
    print(f"flame graph written to {out.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
