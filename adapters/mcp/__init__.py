"""MCP both ways: MCP servers as tools, and the jar (or any tools) as an MCP server.

- ``McpSource(McpServer(...))``: the tools of one MCP server (stdio,
  streamable HTTP, SSE), over one supervised, long-lived session.
- ``build_mcp_server(tools, ...)``, ``serve_http``, ``serve_stdio``,
  ``serve_tools_http``: any tools over MCP, with or without a jar.
"""

from ._client import McpServer, McpSource
from ._http import serve_http, serve_stdio, serve_tools_http
from ._server import McpGateway, ask_tool_name, build_mcp_server

__all__ = [
    "McpGateway",
    "McpServer",
    "McpSource",
    "ask_tool_name",
    "build_mcp_server",
    "serve_http",
    "serve_stdio",
    "serve_tools_http",
]
