"""A model for the assistant benchmarks, in a process of its own, as a real
model is: its work (parsing requests, streaming chunks) is not counted as the
turn's, and does not wait on the turn's event loop or the other way round.

    model = ModelServer()
    await model.start()                     # model.base_url for the OpenAI SDK
    ...
    await model.stop()

It answers at once, by what it is asked (`answer`): the benchmark's request
("add bench task") with an `add_task` call, and anything else, a tool's result
included, with a short text.

`python -m bench.model_server` serves until its standard input closes, after
printing the port it listens on.
"""

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from testsupport.openai_standin import Answer, OpenAIStandIn, call, text, tools

ROOT = Path(__file__).resolve().parents[1]
ASKED_TO_ADD = "add bench task"
START_SECONDS = 30.0


def answer(request: dict[str, Any]) -> Answer:
    last = request["messages"][-1]
    if last["role"] == "user" and last["content"] == ASKED_TO_ADD:
        return tools(call("add_task", {"title": "Bench task"}))
    return text("Added.")


class ModelServer:
    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self.base_url = ""

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.model_server",
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        line = b""
        try:
            line = await asyncio.wait_for(self._proc.stdout.readline(), START_SECONDS)
            port = int(line.split()[1])
        except (TimeoutError, ValueError, IndexError):
            await self.stop()
            raise RuntimeError(f"the model server did not start: {line!r}") from None
        self.base_url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the server's signal to end
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _serve() -> None:
    standin = OpenAIStandIn(fallback=answer)
    await standin.start()
    port = standin.base_url.rsplit(":", 1)[1].split("/", 1)[0]
    print(f"port {port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes it
    await standin.stop()


if __name__ == "__main__":
    asyncio.run(_serve())
