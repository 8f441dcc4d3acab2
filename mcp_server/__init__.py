"""The MCP server: the task tools for the assistant, Claude Desktop and any MCP client.

Built with the official `mcp` SDK (v2, `MCPServer`). Tools call the task
service layer only and act as the user of the connection: the bearer token
over streamable HTTP (`mcp_server.http`), the configured user over stdio
(`mcp_server.stdio`).
"""

from mcp_server.http import MCP_PATH, mcp_lifespan, mount_mcp
from mcp_server.runtime import Runtime
from mcp_server.server import create_server
from mcp_server.stdio import run_stdio

__all__ = ["MCP_PATH", "Runtime", "create_server", "mcp_lifespan", "mount_mcp", "run_stdio"]
