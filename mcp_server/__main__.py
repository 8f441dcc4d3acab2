"""`python -m mcp_server`: the stdio server, as `todo mcp` runs it.

An entry point: the one module of the package that builds the container."""

from mcp_server.stdio import run_stdio
from services.bootstrap import bootstrap

run_stdio(bootstrap)
