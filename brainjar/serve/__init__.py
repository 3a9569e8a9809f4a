"""Serving: a jar's endpoints (OpenAI, Ollama, MCP, gRPC) and ``serve-tools`` for a ToolService.

May import: everything but ``cli`` and ``testing``.
"""

from ._endpoints import build_endpoint, serve_endpoints
from ._grpc import GrpcEndpoint, grpc_endpoint
from ._mcp import JarMcpEndpoint, gateway_for_jar, mcp_endpoint, serve_jar_mcp
from ._toolservice import load_tool_service, serve_tools

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
