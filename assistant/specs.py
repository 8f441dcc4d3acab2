"""MCP tools as Chat Completions function tools.

The input schema goes over as it is (the MCP server already keeps it small);
only what the function-calling format requires is added: an object schema
with properties.
"""

from typing import Any

from assistant.tools import ToolInfo

MAX_DESCRIPTION = 1024  # what the API accepts for a function description


def parameters(schema: dict[str, Any]) -> dict[str, Any]:
    spec = {k: v for k, v in schema.items() if k not in ("$schema", "title")}
    spec["type"] = "object"
    spec.setdefault("properties", {})
    return spec


def function_spec(tool: ToolInfo) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description[:MAX_DESCRIPTION],
            "parameters": parameters(tool.input_schema),
        },
    }


def function_specs(tools: list[ToolInfo]) -> list[dict[str, Any]]:
    return [function_spec(tool) for tool in tools]


__all__ = ["function_spec", "function_specs", "parameters"]
