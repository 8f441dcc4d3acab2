"""`python -m mcp_server`: the stdio server, as `todo mcp` runs it."""

from mcp_server.stdio import run_stdio

run_stdio()
