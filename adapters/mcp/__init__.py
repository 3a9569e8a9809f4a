"""MCP both ways: MCP servers as tools, and the jar (or any tools) as an MCP server.

- ``source_from_manifest(config)``: the tools of one MCP server (stdio,
  streamable HTTP, SSE), over one supervised, long-lived session.
- ``mcp_endpoint(config)``: a manifest's ``mcp:`` endpoint (an ``Endpoint``).
- ``serve_jar_mcp(manifest, transport=...)``: what ``brainjar mcp`` runs.
- ``build_mcp_server(tools, ...)``, ``serve_http``, ``serve_stdio``,
  ``serve_tools_http``: any tools over MCP, with or without a jar.
"""

from ._client import McpSource, source_from_manifest
from ._endpoint import JarMcpEndpoint, gateway_for_jar, mcp_endpoint, serve_jar_mcp
from ._http import serve_http, serve_stdio, serve_tools_http
from ._server import McpGateway, ask_tool_name, build_mcp_server

__all__ = [
    "JarMcpEndpoint",
    "McpGateway",
    "McpSource",
    "ask_tool_name",
    "build_mcp_server",
    "gateway_for_jar",
    "mcp_endpoint",
    "serve_http",
    "serve_jar_mcp",
    "serve_stdio",
    "serve_tools_http",
    "source_from_manifest",
]
