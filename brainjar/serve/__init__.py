"""Serving: a jar's endpoints (OpenAI, Ollama, MCP, gRPC) and ``serve-tools`` for a ToolService.

Names are imported on first use: a jar that serves only the OpenAI API does not
load the MCP SDK (about a second of start-up and 40 MB) or gRPC.

May import: everything but ``cli`` and ``testing``.
"""

from typing import TYPE_CHECKING

import lazy_loader

__all__ = [
    "GrpcEndpoint",
    "JarMcpEndpoint",
    "build_endpoint",
    "gateway_for_jar",
    "grpc_endpoint",
    "load_tool_service",
    "mcp_endpoint",
    "serve_endpoints",
    "serve_jar_mcp",
    "serve_tools",
]

if TYPE_CHECKING:
    from ._endpoints import build_endpoint, serve_endpoints
    from ._grpc import GrpcEndpoint, grpc_endpoint
    from ._mcp import JarMcpEndpoint, gateway_for_jar, mcp_endpoint, serve_jar_mcp
    from ._toolservice import load_tool_service, serve_tools

# The names above, each imported from its module on first use (PEP 562).
__getattr__, __dir__, _ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "_endpoints": ["build_endpoint", "serve_endpoints"],
        "_grpc": ["GrpcEndpoint", "grpc_endpoint"],
        "_mcp": ["JarMcpEndpoint", "gateway_for_jar", "mcp_endpoint", "serve_jar_mcp"],
        "_toolservice": ["load_tool_service", "serve_tools"],
    },
)
