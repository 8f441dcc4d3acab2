"""What the MCP tool list costs a model's context, in tokens.

`todo mcp` is started as a child process (on a scratch data folder) and
spoken to over stdio as a client would: initialize, then `tools/list`. The
answer is counted as it arrives, the whole JSON-RPC message (every tool's
name, title, description, input and output schema and annotations), with
OpenAI's `o200k_base` encoding (GPT-4o and later) and `cl100k_base` (GPT-4,
GPT-3.5), from the `bpe-openai` package, whose vocabularies ship inside it:
nothing is downloaded. Other models' tokenizers (Claude's is not published)
give other counts, typically within some tens of percent.

    python -m testsupport.tool_tokens     # prints the counts
"""

import json
import os
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# bpe-openai 0.1.4 reads its vocabularies with importlib.resources' legacy API,
# which warns on Python 3.11; the warning is the package's, not ours.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import bpe_openai

ENCODINGS = ("o200k_base", "cl100k_base")
_REQUESTS = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "tool-tokens", "version": "1"},
        },
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]


@dataclass(frozen=True)
class ToolListCost:
    tools: int
    characters: int
    tokens: dict[str, int]  # per encoding
    # The part the earlier estimate counted: names, descriptions and input schemas.
    names_descriptions_inputs: dict[str, int]


def tools_list_message(repo: Path, *, timeout: float = 120) -> str:
    """The raw `tools/list` answer of `todo mcp`, one JSON-RPC line as received."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TODO_API_TOKEN")}
        env.update(DATA_DIR=scratch, EVENT_BUS="memory", PYTHONPATH=str(repo))
        stdin = "".join(json.dumps(r) + "\n" for r in _REQUESTS)
        errors = Path(scratch) / "stderr.txt"
        with (
            errors.open("w") as errlog,
            subprocess.Popen(
                [sys.executable, "-m", "mcp_server"],
                cwd=scratch,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errlog,
                text=True,
            ) as process,
        ):
            assert process.stdin is not None
            assert process.stdout is not None
            try:
                process.stdin.write(stdin)
                process.stdin.flush()
                for line in process.stdout:
                    if json.loads(line).get("id") == 2:
                        return line.rstrip("\n")
            finally:
                process.stdin.close()
                process.wait(timeout=timeout)
        raise RuntimeError(f"no tools/list answer: {errors.read_text()}")


def count(message: str) -> ToolListCost:
    tools = json.loads(message)["result"]["tools"]
    partial = json.dumps(
        [
            {
                "name": t["name"],
                "description": t.get("description"),
                "inputSchema": t["inputSchema"],
            }
            for t in tools
        ]
    )
    encodings = _encodings()
    return ToolListCost(
        tools=len(tools),
        characters=len(message),
        tokens={name: len(enc.encode(message)) for name, enc in encodings.items()},
        names_descriptions_inputs={
            name: len(enc.encode(partial)) for name, enc in encodings.items()
        },
    )


def _encodings() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return {name: bpe_openai.get_encoding(name) for name in ENCODINGS}


def main() -> None:
    cost = count(tools_list_message(Path(__file__).resolve().parents[1]))
    print(f"tools/list: {cost.tools} tools, {cost.characters:,} characters of JSON")
    for name in ENCODINGS:
        alone = cost.names_descriptions_inputs[name]
        print(
            f"  {name}: {cost.tokens[name]:,} tokens "
            f"(names, descriptions and input schemas alone: {alone:,})"
        )


if __name__ == "__main__":
    main()
