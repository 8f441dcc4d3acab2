"""The README's figure for what the MCP tool list costs a model's context is
measured, not guessed: `todo mcp`'s `tools/list` answer, as a client receives
it, counted with a real tokenizer (testsupport/tool_tokens.py)."""

import asyncio
import re
from pathlib import Path

from testsupport.tool_tokens import count, tools_list_message

REPO = Path(__file__).resolve().parents[3]


async def test_the_readme_states_the_measured_cost_of_the_tool_list() -> None:
    message = await asyncio.to_thread(tools_list_message, REPO)
    cost = count(message)
    assert cost.tools == 11
    readme = (REPO / "README.md").read_text()
    stated = re.search(r"costs about ([\d,]+) tokens", readme)
    assert stated, "the README states no figure for the tool list"
    figure = int(stated[1].replace(",", ""))
    measured = cost.tokens["o200k_base"]
    assert abs(figure - measured) <= measured * 0.10, (figure, measured)
    # The whole answer, not names and descriptions alone.
    assert cost.tokens["o200k_base"] > cost.names_descriptions_inputs["o200k_base"] * 2
